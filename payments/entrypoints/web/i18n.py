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
        "switch": "English",
        "status_succeeded": "Khoản này đã được thanh toán.",
        "status_cancelled": "Khoản thanh toán này đã bị hủy.",
        "status_expired": "Khoản thanh toán này đã hết hạn.",
        "status_pending": "Đang chờ kết quả từ nhà cung cấp thanh toán.",
        "not_found_title": "Không tìm thấy khoản thanh toán",
        "not_found": "Đường dẫn thanh toán không đúng hoặc đã hết hiệu lực.",
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
        "result_paid": "Thanh toán thành công.",
        "result_processing": "Giao dịch đang được xử lý; kết quả sẽ được cập nhật.",
        "result_failed": "Thanh toán không thành công.",
        "result_unverified": "Không xác minh được kết quả trả về từ nhà cung cấp.",
        "back_to_portal": "Quay lại cổng dịch vụ công",
        "try_again": "Thử lại",
        "fee": "Phí",
        "charge": "Lệ phí",
        "tax": "Thuế",
        "customs_duty": "Thuế hải quan",
        "qr_title": "Chuyển khoản bằng VietQR",
        "qr_help": "Quét mã bằng ứng dụng ngân hàng, hoặc nhập các thông tin dưới đây.",
        "qr_image": "Mã VietQR để chuyển khoản",
        "bank_bin": "Ngân hàng (mã BIN)",
        "account_no": "Số tài khoản",
        "account_name": "Chủ tài khoản",
        "transfer_text": "Nội dung chuyển khoản (bắt buộc)",
        "payload": "Chuỗi VietQR (sao chép)",
        "received": "Đã nhận",
        "refresh": "Cập nhật trạng thái",
        "back": "Chọn cách thanh toán khác",
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
        "switch": "Tiếng Việt",
        "status_succeeded": "This payment has been paid.",
        "status_cancelled": "This payment was cancelled.",
        "status_expired": "This payment has expired.",
        "status_pending": "Waiting for the payment provider's result.",
        "not_found_title": "Payment not found",
        "not_found": "This payment link is wrong or no longer valid.",
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
        "result_paid": "Payment successful.",
        "result_processing": "The transaction is being processed; the result will follow.",
        "result_failed": "The payment did not go through.",
        "result_unverified": "The provider's answer could not be verified.",
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
        "transfer_text": "Transfer description (required)",
        "payload": "VietQR string (copy)",
        "received": "Received so far",
        "refresh": "Refresh the status",
        "back": "Choose another way to pay",
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
