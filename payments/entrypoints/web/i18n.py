"""Page texts in Vietnamese (default) and English, and choosing between them.

A small catalogue is enough for a handful of pages; move to gettext catalogues (Babel) when
translators join.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation

LANGUAGES = ("vi", "en")
DEFAULT = "vi"

TEXTS: Mapping[str, Mapping[str, str]] = {
    "vi": {
        "title": "Thanh toán dịch vụ công",
        "payee": "Đơn vị thụ hưởng",
        "treasury": "Kho bạc (mã KBNN)",
        "purpose": "Nội dung thanh toán",
        "kind": "Loại khoản thu",
        "reference": "Mã hồ sơ",
        "payer": "Người nộp",
        "amount": "Số tiền",
        "expires": "Hạn thanh toán",
        "vietnam_time": "giờ Việt Nam",
        "choose": "Chọn cách thanh toán",
        "pay": "Thanh toán",
        "vnpay": "Thẻ ATM / ngân hàng (VNPay)",
        "momo": "Ví MoMo",
        "vietqr": "Chuyển khoản VietQR",
        "name_vnpay": "VNPay",
        "name_momo": "ví MoMo",
        "name_vietqr": "chuyển khoản VietQR",
        "switch": "English",
        "help": "Cần hỗ trợ?",
        "help_contact": "Liên hệ:",
        "help_agency": "Vui lòng liên hệ cơ quan đã yêu cầu bạn thanh toán.",
        # -- the states of a payment, as its payer sees them
        "state_paid": "Đã thanh toán",
        "paid_note": "Khoản này đã được thanh toán. Bạn không cần thanh toán lại.",
        "proof_title": "Xác nhận thanh toán",
        "payment_id": "Mã thanh toán",
        "paid_through": "Thanh toán qua",
        "provider_txn": "Mã giao dịch của nhà cung cấp",
        "paid_at": "Thời gian thanh toán",
        "amount_paid": "Số tiền đã thanh toán",
        "print_hint": (
            "Để lưu làm bằng chứng thanh toán, hãy in trang này hoặc lưu thành tệp PDF bằng "
            "chức năng In của trình duyệt."
        ),
        "overpaid_note": (
            "Chúng tôi đã nhận {received}, nhiều hơn số phải nộp {over}. Số tiền thừa sẽ được "
            "hoàn lại cho bạn."
        ),
        "state_in_progress": "Đang chờ kết quả thanh toán",
        "in_flight_item": "{provider}: bắt đầu lúc {time}",
        "in_progress_note": (
            "Nếu bạn đã thanh toán, xin đừng thanh toán lại. Kết quả thường có trong vài phút; "
            "hãy kiểm tra lại trang này."
        ),
        "next_check": "Chúng tôi sẽ hỏi lại {provider} lúc {time}.",
        "transfer_wait": (
            "Tiền chuyển khoản thường được ghi nhận trong vài phút sau khi bạn chuyển."
        ),
        "check_again": "Kiểm tra lại",
        "continue_at": "Tiếp tục thanh toán tại {provider}",
        "open_transfer": "Mở lại trang chuyển khoản",
        "pay_another_way": "Tôi chưa thanh toán — chọn cách khác",
        "again_title": "Thanh toán bằng cách khác?",
        "again_warning": "Lần thanh toán trước có thể vẫn thành công.",
        "again_explain": (
            "Nếu bạn đã hoàn tất lần thanh toán trước, tiền có thể vẫn được ghi nhận trong ít "
            "phút nữa. Nếu cả hai lần đều thành công, bạn sẽ bị trừ tiền hai lần: lần sau được "
            "ghi nhận là nộp thừa và sẽ được hoàn lại cho bạn, nhưng việc hoàn tiền có thể mất "
            "nhiều ngày."
        ),
        "again_only_if": (
            "Chỉ tiếp tục nếu bạn chắc chắn chưa thanh toán ở lần trước, ví dụ bạn đã đóng "
            "trang thanh toán trước khi xác nhận."
        ),
        "again_confirm": "Tôi chưa thanh toán lần trước — thanh toán",
        "again_wait": "Quay lại và chờ kết quả",
        "state_partly_received": "Đã nhận một phần số tiền",
        "received_of": "Đã nhận {received} trên tổng số {amount}.",
        "still_due": "Còn phải nộp",
        "transfer_rest_note": (
            "Phần còn lại chỉ trả được bằng chuyển khoản với cùng nội dung chuyển khoản, để "
            "được cộng vào khoản này."
        ),
        "transfer_rest": "Chuyển nốt {amount} bằng VietQR",
        "last_failed": "Lần thanh toán qua {provider} không thành công.",
        "last_stopped": "Lần thanh toán qua {provider} chưa hoàn tất.",
        "still_payable": (
            "Khoản này vẫn chưa được thanh toán. Bạn có thể thử lại hoặc chọn cách thanh toán khác."
        ),
        "state_expired": "Đã hết hạn thanh toán",
        "expired_note": (
            "Khoản thanh toán này đã hết hạn lúc {time} và không thể thanh toán nữa. Vui lòng "
            "quay lại cổng dịch vụ công để được cấp yêu cầu thanh toán mới."
        ),
        "state_cancelled": "Khoản thanh toán đã bị hủy",
        "cancelled_note": (
            "Yêu cầu thanh toán này đã bị hủy nên không thể thanh toán nữa. Vui lòng quay lại "
            "cổng dịch vụ công để biết hồ sơ của bạn cần làm gì tiếp theo."
        ),
        "received_to_refund": (
            "Chúng tôi đã nhận {received} cho khoản này. Vui lòng liên hệ hỗ trợ để được hoàn lại."
        ),
        # -- pages that cannot show a payment
        "not_found_title": "Không tìm thấy khoản thanh toán",
        "not_found": "Đường dẫn thanh toán không đúng hoặc đã hết hiệu lực.",
        "not_found_next": (
            "Vui lòng mở lại liên kết thanh toán từ hồ sơ của bạn trên cổng dịch vụ công."
        ),
        "error_title": "Không thể tiếp tục",
        "provider_unavailable": (
            "Nhà cung cấp thanh toán chưa phản hồi. Vui lòng thử lại sau vài phút, "
            "hoặc chọn cách thanh toán khác."
        ),
        "attempt_in_progress": (
            "Một giao dịch qua nhà cung cấp này đang được khởi tạo hoặc đang chờ nhà cung cấp "
            "xác nhận. Vui lòng đợi vài phút rồi thử lại, hoặc chọn cách thanh toán khác. "
            "Không thanh toán lại khi chưa biết kết quả giao dịch trước."
        ),
        "too_many_attempts": (
            "Khoản này đã được thử thanh toán quá số lần cho phép. Vui lòng kiểm tra kết quả "
            "trên cổng dịch vụ công hoặc liên hệ cơ quan thu."
        ),
        "transfer_only": (
            "Một phần số tiền đã được nhận qua chuyển khoản, nên phần còn lại chỉ trả được "
            "bằng chuyển khoản VietQR."
        ),
        "bad_provider": "Vui lòng chọn một cách thanh toán.",
        "currency_not_accepted": (
            "Không có cách thanh toán trực tuyến nào nhận loại tiền của khoản này. "
            "Vui lòng liên hệ cơ quan thu."
        ),
        "bad_request": "Yêu cầu không hợp lệ. Vui lòng mở lại trang thanh toán.",
        "unexpected": "Hệ thống đang gặp sự cố. Vui lòng thử lại sau ít phút.",
        "request_id": "Mã tra cứu",
        "forbidden": "Yêu cầu không hợp lệ. Vui lòng mở lại trang thanh toán.",
        "result_title": "Kết quả thanh toán",
        "result_unverified": "Không xác minh được kết quả trả về từ nhà cung cấp.",
        "unverified_next": (
            "Nếu bạn đã thanh toán, xin đừng thanh toán lại. Hãy mở lại liên kết thanh toán từ "
            "cổng dịch vụ công để xem trạng thái."
        ),
        "back_to_portal": "Quay lại cổng dịch vụ công",
        "try_again": "Thử lại",
        "fee": "Phí",
        "charge": "Lệ phí",
        "tax": "Thuế",
        "customs_duty": "Thuế hải quan",
        # -- the VietQR transfer page
        "qr_title": "Chuyển khoản bằng VietQR",
        "qr_help": "Quét mã bằng ứng dụng ngân hàng, hoặc nhập các thông tin dưới đây.",
        "qr_image": "Mã VietQR để chuyển khoản",
        "bank_bin": "Ngân hàng (mã BIN)",
        "account_no": "Số tài khoản",
        "account_name": "Chủ tài khoản",
        "transfer_amount": "Số tiền cần chuyển",
        "total_amount": "Tổng số phải nộp",
        "transfer_text": "Nội dung chuyển khoản (bắt buộc)",
        "payload": "Chuỗi VietQR (sao chép)",
        "received": "Đã nhận",
        "refresh": "Cập nhật trạng thái",
        "back": "Quay lại trang thanh toán",
    },
    "en": {
        "title": "Public service payment",
        "payee": "Paid to",
        "treasury": "State Treasury code",
        "purpose": "Payment for",
        "kind": "Kind",
        "reference": "Dossier reference",
        "payer": "Payer",
        "amount": "Amount",
        "expires": "Pay before",
        "vietnam_time": "Vietnam time",
        "choose": "Choose how to pay",
        "pay": "Pay",
        "vnpay": "ATM card / bank (VNPay)",
        "momo": "MoMo e-wallet",
        "vietqr": "VietQR bank transfer",
        "name_vnpay": "VNPay",
        "name_momo": "MoMo",
        "name_vietqr": "VietQR bank transfer",
        "switch": "Tiếng Việt",
        "help": "Need help?",
        "help_contact": "Contact:",
        "help_agency": "Please contact the office that asked you to pay.",
        "state_paid": "Paid",
        "paid_note": "This payment has been paid. You do not need to pay again.",
        "proof_title": "Proof of payment",
        "payment_id": "Payment number",
        "paid_through": "Paid through",
        "provider_txn": "Provider's transaction number",
        "paid_at": "Paid at",
        "amount_paid": "Amount paid",
        "print_hint": (
            "To keep it as proof of payment, print this page or save it as a PDF with your "
            "browser's Print command."
        ),
        "overpaid_note": (
            "We received {received}, {over} more than was due. The difference will be refunded "
            "to you."
        ),
        "state_in_progress": "Waiting for the payment result",
        "in_flight_item": "{provider}: started at {time}",
        "in_progress_note": (
            "If you have paid, please do not pay again. The result usually comes within a few "
            "minutes; check this page again."
        ),
        "next_check": "We will ask {provider} again at {time}.",
        "transfer_wait": "A bank transfer is usually recorded within a few minutes of sending it.",
        "check_again": "Check again",
        "continue_at": "Continue paying at {provider}",
        "open_transfer": "Open the transfer page again",
        "pay_another_way": "I have not paid — choose another way",
        "again_title": "Pay another way?",
        "again_warning": "Your first payment may still go through.",
        "again_explain": (
            "If you completed your first payment, the money may still be recorded in the next "
            "few minutes. If both go through, you are charged twice: the second is recorded as "
            "paid too much and refunded to you, but a refund may take several days."
        ),
        "again_only_if": (
            "Only go on if you are sure you did not pay the first time, for example because "
            "you closed the payment page before confirming."
        ),
        "again_confirm": "I did not pay the first time — pay",
        "again_wait": "Go back and wait for the result",
        "state_partly_received": "Part of the amount has arrived",
        "received_of": "{received} of {amount} has arrived.",
        "still_due": "Still to pay",
        "transfer_rest_note": (
            "The rest can only be paid by bank transfer with the same transfer description, so "
            "that it adds up to this payment."
        ),
        "transfer_rest": "Transfer the remaining {amount} by VietQR",
        "last_failed": "The payment through {provider} did not go through.",
        "last_stopped": "The payment through {provider} was not completed.",
        "still_payable": "This payment is still unpaid. You can try again or choose another way.",
        "state_expired": "The time to pay has run out",
        "expired_note": (
            "This payment expired at {time} and can no longer be paid. Please go back to the "
            "public service portal for a new payment request."
        ),
        "state_cancelled": "This payment was cancelled",
        "cancelled_note": (
            "This payment request was cancelled, so it can no longer be paid. Please go back to "
            "the public service portal to see what your dossier needs next."
        ),
        "received_to_refund": (
            "We received {received} for this payment. Please contact the help desk to have it "
            "refunded."
        ),
        "not_found_title": "Payment not found",
        "not_found": "This payment link is wrong or no longer valid.",
        "not_found_next": (
            "Please open the payment link again from your dossier on the public service portal."
        ),
        "error_title": "Cannot continue",
        "provider_unavailable": (
            "The payment provider is not answering right now. Please try again in a few "
            "minutes, or choose another way to pay."
        ),
        "attempt_in_progress": (
            "A payment through this provider is being started or is waiting for the provider "
            "to confirm it. Please wait a few minutes and try again, or choose another way to "
            "pay. Do not pay again before you know the result of the first try."
        ),
        "too_many_attempts": (
            "This payment has been tried as many times as allowed. Please check its result on "
            "the public service portal, or contact the collecting agency."
        ),
        "transfer_only": (
            "Part of the amount has arrived by bank transfer, so the rest can only be paid by "
            "VietQR bank transfer."
        ),
        "bad_provider": "Please choose a way to pay.",
        "currency_not_accepted": (
            "No way to pay online here accepts the currency of this payment. "
            "Please contact the collecting agency."
        ),
        "bad_request": "This request is not valid. Please open the payment page again.",
        "unexpected": "Something went wrong on our side. Please try again in a few minutes.",
        "request_id": "Reference for the help desk",
        "forbidden": "Invalid request. Please open the payment page again.",
        "result_title": "Payment result",
        "result_unverified": "The provider's answer could not be verified.",
        "unverified_next": (
            "If you have paid, please do not pay again. Open the payment link again from the "
            "public service portal to see its status."
        ),
        "back_to_portal": "Back to the public service portal",
        "try_again": "Try again",
        "fee": "Fee",
        "charge": "Charge",
        "tax": "Tax",
        "customs_duty": "Customs duty",
        "qr_title": "Pay by VietQR bank transfer",
        "qr_help": "Scan the code with your banking app, or type the details below.",
        "qr_image": "VietQR code for the transfer",
        "bank_bin": "Bank (BIN)",
        "account_no": "Account number",
        "account_name": "Account holder",
        "transfer_amount": "Amount to transfer",
        "total_amount": "Total due",
        "transfer_text": "Transfer description (required)",
        "payload": "VietQR string (copy)",
        "received": "Received so far",
        "refresh": "Refresh the status",
        "back": "Back to the payment page",
    },
}


def choose_language(query_lang: str | None, accept_language: str | None) -> str:
    """``?lang=`` wins; then the first supported language of ``Accept-Language`` by weight."""
    if query_lang in LANGUAGES:
        return query_lang
    ranked: list[tuple[Decimal, int, str]] = []
    for index, part in enumerate((accept_language or "").split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        weight = Decimal(1)
        if params.strip().startswith("q="):
            try:  # Decimal, not float: the project keeps float out of payments/ entirely
                weight = Decimal(params.strip()[2:7])
            except InvalidOperation:
                continue
            if not weight.is_finite():
                continue
        primary = tag.split("-")[0].lower()
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, index, primary))
    return min(ranked)[2] if ranked else DEFAULT
