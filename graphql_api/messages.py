"""Human messages for error codes: Uzbek by default, English and Russian on request."""

from __future__ import annotations

DEFAULT_LOCALE = "uz"
LOCALES = ("uz", "en", "ru")

_MESSAGES: dict[str, dict[str, str]] = {
    "INVALID_PHONE_NUMBER": {
        "uz": "Telefon raqami noto'g'ri. Mobil raqamni +998901234567 ko'rinishida kiriting.",
        "en": "That is not a valid mobile number. Enter it like +998901234567.",
        "ru": "Неверный номер телефона. Введите мобильный номер в виде +998901234567.",
    },
    "COUNTRY_NOT_ALLOWED": {
        "uz": "Bu mamlakat raqamlariga kod yuborilmaydi. Kodlar faqat quyidagi "
        "raqamlarga yuboriladi: {countries}.",
        "en": "Codes are not sent to numbers in that country. They are sent only to "
        "numbers in: {countries}.",
        "ru": "На номера этой страны коды не отправляются. Коды отправляются только на "
        "номера: {countries}.",
    },
    "RATE_LIMITED": {
        "uz": "Juda ko'p urinish. {retry_after} soniyadan keyin qayta urinib ko'ring.",
        "en": "Too many attempts. Try again in {retry_after} s.",
        "ru": "Слишком много попыток. Повторите через {retry_after} с.",
    },
    "SMS_DELIVERY_FAILED": {
        "uz": "SMS yuborib bo'lmadi. Birozdan keyin qayta urinib ko'ring.",
        "en": "The SMS could not be sent. Please try again shortly.",
        "ru": "Не удалось отправить SMS. Попробуйте чуть позже.",
    },
    "INVALID_OTP": {
        "uz": "Kod noto'g'ri yoki muddati o'tgan. Yangi kod so'rang.",
        "en": "The code is wrong or has expired. Ask for a new one.",
        "ru": "Код неверный или устарел. Запросите новый код.",
    },
    "UNAUTHENTICATED": {
        "uz": "Avval tizimga kiring.",
        "en": "Sign in first.",
        "ru": "Сначала войдите в систему.",
    },
    "FORBIDDEN": {
        "uz": "Bu kalit bu amalga ruxsat bermaydi.",
        "en": "This key is not allowed to do that.",
        "ru": "Этот ключ не даёт права на это действие.",
    },
    "INVALID_SESSION": {
        "uz": "Seans tugagan yoki yaroqsiz. Qaytadan tizimga kiring.",
        "en": "The session has ended or is not valid. Sign in again.",
        "ru": "Сеанс завершён или недействителен. Войдите снова.",
    },
    "SESSION_NOT_FOUND": {
        "uz": "Seans topilmadi.",
        "en": "No such session.",
        "ru": "Сеанс не найден.",
    },
    "NOT_FOUND": {
        "uz": "Yozuv topilmadi.",
        "en": "No such recording.",
        "ru": "Запись не найдена.",
    },
    "VERSION_CONFLICT": {
        "uz": "Yozuv siz ko'rganingizdan keyin o'zgargan (hozir {current}-versiya). "
        "Yangilab, qayta urinib ko'ring.",
        "en": "The recording changed since you loaded it (now version {current}). "
        "Reload and try again.",
        "ru": "Запись изменилась после загрузки (сейчас версия {current}). Обновите и повторите.",
    },
    "INVALID_AUDIO": {
        "uz": "Bu fayl yaroqli audio emas ({reason}).",
        "en": "This file is not usable audio ({reason}).",
        "ru": "Этот файл не является пригодным аудио ({reason}).",
    },
    "FILE_TOO_LARGE": {
        "uz": "Fayl juda katta: eng ko'pi {max_mb} MB.",
        "en": "The file is too large: at most {max_mb} MB.",
        "ru": "Файл слишком большой: не более {max_mb} МБ.",
    },
    "QUOTA_QUEUED_AUDIO_SECONDS": {
        "uz": "Sizda matnga o'girilishini kutayotgan {used} daqiqa audio bor; bu fayl yana "
        "{requested} daqiqa qo'shadi, chegara esa {limit} daqiqa. Yozuvlaringizning bir qismi "
        "tayyor bo'lgach yuklang.",
        "en": "You already have {used} min of audio waiting to be transcribed; this file adds "
        "{requested} min and the limit is {limit} min. Upload it once some of your recordings "
        "are done.",
        "ru": "У вас уже {used} мин аудио ждут расшифровки; этот файл добавит {requested} мин, "
        "а предел — {limit} мин. Загрузите его, когда часть записей будет готова.",
    },
    "QUOTA_STORED_BYTES": {
        "uz": "Yozuvlaringiz {used} MB joy egallaydi; bu fayl yana {requested} MB qo'shadi, "
        "chegara esa {limit} MB. Joy bo'shatish uchun ba'zi yozuvlarni o'chiring.",
        "en": "Your recordings take {used} MB; this file adds {requested} MB and the limit is "
        "{limit} MB. Delete some recordings to make room.",
        "ru": "Ваши записи занимают {used} МБ; этот файл добавит {requested} МБ, а предел — "
        "{limit} МБ. Удалите часть записей, чтобы освободить место.",
    },
    "NOT_A_FILE": {
        "uz": "Fayl fayl sifatida yuborilmadi: uni nomi ko'rsatilgan multipart fayl qismi "
        "sifatida yuboring.",
        "en": "The upload was not sent as a file: send it as a multipart file part with a "
        "filename.",
        "ru": "Загрузка передана не как файл: отправьте её частью multipart с именем файла.",
    },
    "INVALID_EDIT": {
        "uz": "Tahrirni qo'llab bo'lmaydi: {detail}.",
        "en": "The edit cannot be applied: {detail}.",
        "ru": "Правку нельзя применить: {detail}.",
    },
    "INVALID_STATE": {
        "uz": "Faqat xato bilan tugagan yoki bekor qilingan yozuvni qayta ishlash mumkin "
        "(holati: {status}).",
        "en": "Only a FAILED or CANCELLED recording can be retried (it is {status}).",
        "ru": "Повторить можно только запись с ошибкой или отменённую (сейчас: {status}).",
    },
    "NOT_CANCELLABLE": {
        "uz": "Faqat navbatdagi yoki ishlanayotgan yozuvni bekor qilish mumkin (holati: {status}).",
        "en": "Only a QUEUED or PROCESSING transcription can be cancelled (it is {status}).",
        "ru": "Отменить можно только запись в очереди или в работе (сейчас: {status}).",
    },
    "NOT_PERMITTED": {
        "uz": "Bu yozuvni faqat uning egasi tahrirlay oladi.",
        "en": "Only the owner of this recording can edit it.",
        "ru": "Редактировать эту запись может только её владелец.",
    },
    "INVALID_DOCUMENT": {
        "uz": "So'rov sxemaga mos kelmaydi (ko'rsatilgan joyda).",
        "en": "The document does not match the schema (at the locations given).",
        "ru": "Документ не соответствует схеме (в указанных местах).",
    },
    "BAD_USER_INPUT": {
        "uz": "{argument} qiymatini ishlatib bo'lmaydi: {detail}.",
        "en": "The value of {argument} cannot be used: {detail}.",
        "ru": "Значение {argument} нельзя использовать: {detail}.",
    },
    "BAD_REQUEST": {
        "uz": "So'rovni o'qib bo'lmadi: {detail}.",
        "en": "The request cannot be read: {detail}.",
        "ru": "Не удалось прочитать запрос: {detail}.",
    },
    "METHOD_NOT_ALLOWED": {
        "uz": "GraphQL so'rovlari /graphql manziliga POST bilan yuboriladi.",
        "en": "Send GraphQL requests to /graphql with POST.",
        "ru": "Отправляйте GraphQL-запросы на /graphql методом POST.",
    },
    "OPERATION_NOT_SUPPORTED": {
        "uz": "Obunalar faqat WebSocket orqali ishlaydi (/graphql, graphql-transport-ws).",
        "en": "Subscriptions run over the WebSocket only (/graphql, graphql-transport-ws).",
        "ru": "Подписки работают только через WebSocket (/graphql, graphql-transport-ws).",
    },
    "BATCHING_NOT_SUPPORTED": {
        "uz": "Har bir so'rovda bitta operatsiya yuboring: to'plamli so'rovlar ishlamaydi.",
        "en": "Send one operation per request: batched requests are not supported.",
        "ru": "Отправляйте одну операцию на запрос: пакетные запросы не поддерживаются.",
    },
    "PREFLIGHT_REQUIRED": {
        "uz": "Multipart so'rovga Apollo-Require-Preflight yoki X-Apollo-Operation-Name "
        "sarlavhasi kerak (CSRF himoyasi).",
        "en": "A multipart request needs an Apollo-Require-Preflight or "
        "X-Apollo-Operation-Name header (CSRF protection).",
        "ru": "Multipart-запросу нужен заголовок Apollo-Require-Preflight или "
        "X-Apollo-Operation-Name (защита от CSRF).",
    },
    "REQUEST_TOO_LARGE": {
        "uz": "So'rov juda katta: eng ko'pi {max_kb} KB (fayllar multipart bilan yuklanadi).",
        "en": "The request is too large: at most {max_kb} KB (files are uploaded as multipart).",
        "ru": "Запрос слишком большой: не более {max_kb} КБ (файлы загружаются через multipart).",
    },
    "REQUEST_TIMEOUT": {
        "uz": "So'rov juda sekin keldi. Ulanishni tekshirib, qayta yuboring.",
        "en": "The request arrived too slowly. Check the connection and send it again.",
        "ru": "Запрос поступал слишком медленно. Проверьте соединение и отправьте снова.",
    },
    "INVALID_API_KEY_NAME": {
        "uz": "Kalit nomi 1 dan {max} tagacha belgidan iborat bo'lsin.",
        "en": "A key's name must be 1 to {max} characters long.",
        "ru": "Имя ключа должно содержать от 1 до {max} символов.",
    },
    "INVALID_API_KEY_SCOPES": {
        "uz": "Kalit uchun kamida bitta ruxsat (scope) tanlang.",
        "en": "Choose at least one scope for the key.",
        "ru": "Выберите для ключа хотя бы одну область доступа (scope).",
    },
    "API_KEY_LIMIT_REACHED": {
        "uz": "Sizda allaqachon {limit} ta faol kalit bor. Avval keraksizini bekor qiling.",
        "en": "You already have {limit} live keys. Revoke one you no longer need first.",
        "ru": "У вас уже {limit} действующих ключей. Сначала отзовите ненужный.",
    },
    "API_KEY_NOT_FOUND": {
        "uz": "Kalit topilmadi.",
        "en": "No such key.",
        "ru": "Ключ не найден.",
    },
    "INVALID_WEBHOOK_URL": {
        "uz": "Bu manzilga webhook yuborib bo'lmaydi ({reason}). Ochiq internetdagi https "
        "manzilini kiriting.",
        "en": "Webhooks cannot be sent to this URL ({reason}). Give an https URL on the "
        "public internet.",
        "ru": "На этот адрес нельзя отправлять вебхуки ({reason}). Укажите https-адрес в "
        "публичном интернете.",
    },
    "NO_WEBHOOK_EVENTS": {
        "uz": "Webhook uchun kamida bitta hodisani tanlang.",
        "en": "Choose at least one event for the webhook.",
        "ru": "Выберите хотя бы одно событие для вебхука.",
    },
    "WEBHOOK_LIMIT_REACHED": {
        "uz": "Sizda allaqachon {limit} ta webhook bor. Yangisini qo'shishdan oldin birini "
        "o'chiring.",
        "en": "You already have {limit} webhooks. Delete one before adding another.",
        "ru": "У вас уже {limit} вебхуков. Удалите один, прежде чем добавить новый.",
    },
    "WEBHOOK_NOT_FOUND": {
        "uz": "Webhook topilmadi.",
        "en": "No such webhook.",
        "ru": "Вебхук не найден.",
    },
    "INTERNAL": {
        "uz": "Kutilmagan xato yuz berdi. So'rov raqami: {request_id}.",
        "en": "Unexpected error. Request id: {request_id}.",
        "ru": "Непредвиденная ошибка. Номер запроса: {request_id}.",
    },
    # The audit trail (auditTrail.summary): what each event did, without personal data.
    "AUDIT_UPLOADED": {
        "uz": "Yuklandi: {content_type}, {size_mb} MB, {seconds} s",
        "en": "Uploaded {content_type}, {size_mb} MB, {seconds} s",
        "ru": "Загружено: {content_type}, {size_mb} МБ, {seconds} с",
    },
    "AUDIT_UPLOADED_WITH_HINT": {
        "uz": "Yuklandi: {content_type}, {size_mb} MB, {seconds} s, ko'rsatilgan til: {language}",
        "en": "Uploaded {content_type}, {size_mb} MB, {seconds} s, language hint {language}",
        "ru": "Загружено: {content_type}, {size_mb} МБ, {seconds} с, указанный язык: {language}",
    },
    "AUDIT_REPLACED": {
        "uz": "Matn butunlay almashtirildi ({words} so'z)",
        "en": "Transcript replaced ({words} words)",
        "ru": "Текст заменён целиком ({words} сл.)",
    },
    "AUDIT_CORRECTED": {
        "uz": "Tuzatilgan qismlar: {segments}",
        "en": "{segments} segment(s) corrected",
        "ru": "Исправлено фрагментов: {segments}",
    },
    "AUDIT_STARTED": {
        "uz": "Matnga aylantirish boshlandi ({attempt}-urinish)",
        "en": "Transcription started (attempt {attempt})",
        "ru": "Распознавание началось (попытка {attempt})",
    },
    "AUDIT_COMPLETED": {
        "uz": "{model} modeli matnga aylantirdi: til {language}, {segments} qismda {words} so'z, "
        "{seconds} s",
        "en": "Transcribed by {model}: {language}, {words} words in {segments} segments, "
        "{seconds} s",
        "ru": "Распознано моделью {model}: язык {language}, {words} сл. во фрагментах: "
        "{segments}, {seconds} с",
    },
    "AUDIT_COMPLETED_UNCERTAIN": {
        "uz": "{model} modeli matnga aylantirdi: til {language} (aniq emas), {segments} qismda "
        "{words} so'z, {seconds} s",
        "en": "Transcribed by {model}: {language}, language uncertain, {words} words in "
        "{segments} segments, {seconds} s",
        "ru": "Распознано моделью {model}: язык {language} (не уверена), {words} сл. во "
        "фрагментах: {segments}, {seconds} с",
    },
    "AUDIT_FAILED_RETRY": {
        "uz": "Matnga aylantirib bo'lmadi ({attempt}-urinish, yana uriniladi): {reason}",
        "en": "Transcription failed (attempt {attempt}, will retry): {reason}",
        "ru": "Распознать не удалось (попытка {attempt}, будет повтор): {reason}",
    },
    "AUDIT_FAILED_FINAL": {
        "uz": "Matnga aylantirib bo'lmadi ({attempt}-urinish, oxirgi): {reason}",
        "en": "Transcription failed (attempt {attempt}, final): {reason}",
        "ru": "Распознать не удалось (попытка {attempt}, последняя): {reason}",
    },
    "AUDIT_REQUEUED": {
        "uz": "Qayta matnga aylantirish so'raldi",
        "en": "Transcription requested again",
        "ru": "Запрошено повторное распознавание",
    },
    "AUDIT_CANCELLED": {
        "uz": "Matnga aylantirish bekor qilindi",
        "en": "Transcription cancelled",
        "ru": "Распознавание отменено",
    },
    "AUDIT_DELETED": {
        "uz": "O'chirildi: audio va ma'lumot kaliti yo'q qilindi",
        "en": "Deleted, audio and data key erased",
        "ru": "Удалено: аудио и ключ данных уничтожены",
    },
    "AUDIT_ERASED": {
        "uz": "Tafsilotlar o'chirilgan",
        "en": "Details erased",
        "ru": "Подробности стёрты",
    },
    "AUDIT_OTHER": {"uz": "{name}", "en": "{name}", "ru": "{name}"},
}


def message(code: str, locale: str, **params: object) -> str:
    """The message for ``code`` in ``locale`` (falling back to Uzbek)."""
    by_locale = _MESSAGES[code]
    return by_locale.get(locale, by_locale[DEFAULT_LOCALE]).format(**params)


def negotiate_locale(accept_language: str | None) -> str:
    """Pick uz, en or ru from an Accept-Language header by its q-weights."""
    if not accept_language:
        return DEFAULT_LOCALE
    choices: list[tuple[float, int, str]] = []
    for index, part in enumerate(accept_language.split(",")[:20]):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        language = tag.strip().lower().split("-")[0]
        if language in LOCALES and quality > 0:
            choices.append((-quality, index, language))
    return min(choices)[2] if choices else DEFAULT_LOCALE
