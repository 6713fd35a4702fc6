"""Server-to-server messages: only a genuine one about an attempt of ours, for its amount, from
our merchant, moves money, and only once. Every message is kept with what became of it."""

from __future__ import annotations

from payments.domain.attempts import new_attempt_id, provider_reference
from payments.domain.payments import PaymentStatus
from tests.conformance.cases import ProviderCase, Tamper
from tests.conformance.sandbox import Sandbox, StoredCallback

REFUSED_AS = {
    Tamper.SIGNATURE: "bad_signature",
    Tamper.CONTENT: "bad_signature",
    Tamper.UNSIGNED: "missing_signature",
}


async def test_a_genuine_callback_is_applied_once_and_its_replay_changes_nothing(
    case: ProviderCase, sandbox: Sandbox
) -> None:
    _, attempt = await case.opened(sandbox)
    message = case.callback(
        sandbox, attempt, amount=attempt.amount, reference=attempt.provider_ref, foreign=False
    )
    first = await sandbox.send(message)
    replayed = await sandbox.send(message)

    assert case.acknowledged(first), first.text
    assert case.acknowledged(replayed), replayed.text  # or the provider sends it for ever
    assert (await sandbox.payment(attempt.payment_id)).status is PaymentStatus.SUCCEEDED
    assert await sandbox.callbacks_naming(attempt.provider_ref) == [
        StoredCallback("ok", "applied"),
        StoredCallback("ok", "duplicate"),
    ]
    assert await sandbox.captured(case.name) == attempt.amount  # captured once


async def test_a_tampered_or_foreign_callback_is_refused_and_kept(
    case: ProviderCase, sandbox: Sandbox
) -> None:
    _, attempt = await case.opened(sandbox)
    genuine = case.callback(
        sandbox, attempt, amount=attempt.amount, reference=attempt.provider_ref, foreign=False
    )
    foreign = case.callback(
        sandbox, attempt, amount=attempt.amount, reference=attempt.provider_ref, foreign=True
    )
    untrusted = [case.tampered(genuine, how) for how in Tamper] + [foreign]
    answers = [await sandbox.send(message) for message in untrusted]

    assert not any(case.acknowledged(answer) for answer in answers), [a.text for a in answers]
    # Where the message names no merchant, only its key says whose it is.
    from_another = "wrong_merchant" if case.merchant_in_message else "bad_signature"
    assert await sandbox.callbacks_naming(attempt.provider_ref) == [
        StoredCallback(refusal, "unverified")
        for refusal in [*(REFUSED_AS[how] for how in Tamper), from_another]
    ]
    assert (await sandbox.payment(attempt.payment_id)).status is PaymentStatus.PENDING
    assert await sandbox.captured(case.name) == 0


async def test_a_callback_for_another_amount_does_not_pay_the_amount_asked(
    case: ProviderCase, sandbox: Sandbox
) -> None:
    for difference in (-1_000, 1_000):
        _, attempt = await case.opened(sandbox)
        amount = attempt.amount + difference
        message = case.callback(
            sandbox, attempt, amount=amount, reference=attempt.provider_ref, foreign=False
        )
        clearing_before = await sandbox.captured(case.name)
        await sandbox.send(message)
        payment = await sandbox.payment(attempt.payment_id)
        (stored,) = await sandbox.callbacks_naming(attempt.provider_ref)
        captured = await sandbox.captured(case.name) - clearing_before

        if not case.amount_is_what_arrived:  # the provider charged what we asked, or it is forged
            assert stored == StoredCallback("ok", "refused")
            assert payment.status is PaymentStatus.PENDING
            assert captured == 0
        elif difference < 0:  # under-paid: counted, still owed
            assert stored == StoredCallback("ok", "applied")
            assert payment.status is PaymentStatus.PENDING
            assert payment.flags.received_amount == amount
            assert captured == 0
        else:  # over-paid: paid, and the excess is owed back, for people to look at
            assert stored == StoredCallback("ok", "applied")
            assert payment.status is PaymentStatus.SUCCEEDED
            assert payment.flags.needs_review
            assert payment.flags.overpaid_amount == difference
            assert captured == amount


async def test_a_callback_naming_a_reference_we_never_issued_is_kept_not_applied(
    case: ProviderCase, sandbox: Sandbox
) -> None:
    _, attempt = await case.opened(sandbox)
    stranger = provider_reference(case.name, new_attempt_id(attempt.created_at))
    message = case.callback(
        sandbox, attempt, amount=attempt.amount, reference=stranger, foreign=False
    )
    await sandbox.send(message)

    assert await sandbox.callbacks_naming(stranger) == [StoredCallback("ok", "not_found")]
    assert await sandbox.callbacks_naming(attempt.provider_ref) == []
    assert (await sandbox.payment(attempt.payment_id)).status is PaymentStatus.PENDING
    assert await sandbox.captured(case.name) == 0
