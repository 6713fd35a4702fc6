"""Provider conformance: one set of rules every payment provider module passes.

Each test runs once per provider case (ids ``vnpay``, ``momo``, ``vietqr``) and per database
(``--db``), against the provider's sandbox simulator with its fault switches
(``payments/sandbox/faults.py``). Nothing is skipped: a capability a protocol
lacks is declared by its case and asserted as lacking (VietQR's query answers ``Unknown``; its
refund is a transfer instruction for people, never a refund it could confirm).

    test_capabilities  what a case declares is what its module and the domain say
    test_start         the payer is sent to pay our attempt's reference and the exact amount;
                       a provider that did not answer gives ``Unknown``, never a page
    test_callbacks     a genuine callback is applied once; a tampered one, one for another
                       amount, another merchant or a reference we never issued moves nothing
    test_query         the provider's own answer, or ``Unknown`` (5xx, garbled, lost, hung, a
                       refusal to answer); an answer about another transaction is ``Rejected``
    test_refunds       one refund per request id whatever the wire does; "not found" only from
                       the provider (then resending the same id is safe); a status answer
                       about another refund is never taken for ours
    test_timeouts      a hung provider: every call ``Unknown`` once the client's timeout fires

Adding a provider (say NAPAS, or a bank's own gateway):

1. Give it a sandbox simulator with a ``Faults`` (``sandbox_faults``) around each of its
   server-to-server operations, its waits through ``faults.wait``, and expose it on
   ``Sandbox`` (``sandbox.py``) so ``trouble.provider_calls`` counts its calls.
2. Write its ``ProviderCase`` in ``cases.py`` and add it to ``CASES``:
   - ``provider``: the module on the given client timeout, optionally with credentials the
     simulator does not accept (``secret``);
   - ``faults`` and ``operations``: its simulator's switches and which one each call of
     ``start_checkout``, ``query_status``, ``refund`` and ``refund_status`` takes (None: that
     method makes no call);
   - ``told``: the reference and amount on the page the payer is sent to; ``pay``: pay in full
     at the simulator, as a payer would;
   - ``callback``: a genuine "paid" message (amount, reference, or another merchant's);
     ``tampered``: the same with its signature altered, its amount altered, or no signature;
     ``acknowledged``: whether the gateway's answer tells the provider the message was taken;
   - ``refunded``: the refunds the provider itself holds for an attempt;
   - the capabilities: ``has_query``, ``never_seen`` (what its query says of an attempt it
     never received), ``refunds_told_apart`` (its refund status names our refund, not only the
     payment and a date), ``refund_kind`` (``api`` or ``transfer instruction``),
     ``merchant_in_message``, ``amount_is_what_arrived``.
3. Run ``pytest tests/conformance --db sqlite`` and ``--db postgresql``. A failure is the module
   breaking a rule: fix the module, never the rule. A capability the protocol truly lacks is
   declared false, and the gateway must then keep what the lack allows from happening (for
   ``refunds_told_apart = False``: one refund of a payment at the provider at a time, each
   created in a second of its own).
"""
