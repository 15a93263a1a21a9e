"""Human messages for error codes: Uzbek by default, English and Russian on request."""

from __future__ import annotations

DEFAULT_LOCALE = "uz"
LOCALES = ("uz", "en", "ru")

_MESSAGES: dict[str, dict[str, str]] = {
    "INVALID_PHONE_NUMBER": {
        "uz": "Telefon raqami notoʻgʻri. Mobil raqamni +998901234567 koʻrinishida kiriting.",
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
        "uz": "Juda koʻp urinish. {retry_after} soniyadan keyin qayta urinib koʻring.",
        "en": "Too many attempts. Try again in {retry_after} s.",
        "ru": "Слишком много попыток. Повторите через {retry_after} с.",
    },
    "SMS_DELIVERY_FAILED": {
        "uz": "SMS yuborib boʻlmadi. Birozdan keyin qayta urinib koʻring.",
        "en": "The SMS could not be sent. Please try again shortly.",
        "ru": "Не удалось отправить SMS. Попробуйте чуть позже.",
    },
    "INVALID_OTP": {
        "uz": "Kod notoʻgʻri yoki muddati oʻtgan. Yangi kod soʻrang.",
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
        "uz": "Yozuv siz koʻrganingizdan keyin oʻzgargan (hozir {current}-versiya). "
        "Yangilab, qayta urinib koʻring.",
        "en": "The recording changed since you loaded it (now version {current}). "
        "Reload and try again.",
        "ru": "Запись изменилась после загрузки (сейчас версия {current}). Обновите и повторите.",
    },
    "INVALID_AUDIO": {
        "uz": "Bu fayl yaroqli audio emas ({reason}).",
        "en": "This file is not usable audio ({reason}).",
        "ru": "Этот файл не является пригодным аудио ({reason}).",
    },
    # InvalidAudio, per reason (INVALID_AUDIO above is the fallback).
    "INVALID_AUDIO_EMPTY": {
        "uz": "Fayl boʻsh: unda tovush yoʻq.",
        "en": "The file is empty: there is no sound in it.",
        "ru": "Файл пустой: в нём нет звука.",
    },
    "INVALID_AUDIO_NOT_AUDIO": {
        "uz": "Bu audio yoki video fayl emas. MP3, M4A, WAV, OGG, FLAC yoki WebM yuklang.",
        "en": "This is not an audio or video file. Upload MP3, M4A, WAV, OGG, FLAC or WebM.",
        "ru": "Это не аудио- и не видеофайл. Загрузите MP3, M4A, WAV, OGG, FLAC или WebM.",
    },
    "INVALID_AUDIO_NO_AUDIO_STREAM": {
        "uz": "Faylda ovoz yoʻlagi yoʻq (masalan, ovozsiz video).",
        "en": "The file has no sound track (a silent video, say).",
        "ru": "В файле нет звуковой дорожки (например, видео без звука).",
    },
    "INVALID_AUDIO_TRUNCATED": {
        "uz": "Fayl oxirigacha yuklanmagan yoki kesilgan. Uni qaytadan saqlab, yana yuklang.",
        "en": "The file is cut short. Save it again and upload it once more.",
        "ru": "Файл обрезан. Сохраните его заново и загрузите ещё раз.",
    },
    "INVALID_AUDIO_UNDECODABLE": {
        "uz": "Fayldagi audio maʼlumotlari buzilgan.",
        "en": "The audio data in the file is damaged.",
        "ru": "Аудиоданные в файле повреждены.",
    },
    "INVALID_AUDIO_TOO_LONG": {
        "uz": "Yozuv juda uzun: eng koʻpi {max_minutes} daqiqa.",
        "en": "The recording is too long: {max_minutes} minutes at most.",
        "ru": "Запись слишком длинная: не более {max_minutes} мин.",
    },
    "INVALID_AUDIO_UNKNOWN_LANGUAGE": {
        "uz": "Bunday til yoʻq. Tilni uz, ru yoki en kabi kod bilan koʻrsating yoki "
        "boʻsh qoldiring.",
        "en": "No such language. Give a code such as uz, ru or en, or leave it empty.",
        "ru": "Такого языка нет. Укажите код, например uz, ru или en, или оставьте поле пустым.",
    },
    "FILE_TOO_LARGE": {
        "uz": "Fayl juda katta: eng koʻpi {max_mb} MB.",
        "en": "The file is too large: at most {max_mb} MB.",
        "ru": "Файл слишком большой: не более {max_mb} МБ.",
    },
    "QUOTA_QUEUED_AUDIO_SECONDS": {
        "uz": "Sizda matnga oʻgirilishini kutayotgan {used} daqiqa audio bor; bu fayl yana "
        "{requested} daqiqa qoʻshadi, chegara esa {limit} daqiqa. Yozuvlaringizning bir qismi "
        "tayyor boʻlgach yuklang.",
        "en": "You already have {used} min of audio waiting to be transcribed; this file adds "
        "{requested} min and the limit is {limit} min. Upload it once some of your recordings "
        "are done.",
        "ru": "У вас уже {used} мин аудио ждут расшифровки; этот файл добавит {requested} мин, "
        "а предел — {limit} мин. Загрузите его, когда часть записей будет готова.",
    },
    "QUOTA_STORED_BYTES": {
        "uz": "Yozuvlaringiz {used} MB joy egallaydi; bu fayl yana {requested} MB qoʻshadi, "
        "chegara esa {limit} MB. Joy boʻshatish uchun baʼzi yozuvlarni oʻchiring.",
        "en": "Your recordings take {used} MB; this file adds {requested} MB and the limit is "
        "{limit} MB. Delete some recordings to make room.",
        "ru": "Ваши записи занимают {used} МБ; этот файл добавит {requested} МБ, а предел — "
        "{limit} МБ. Удалите часть записей, чтобы освободить место.",
    },
    "NOT_A_FILE": {
        "uz": "Fayl fayl sifatida yuborilmadi: uni nomi koʻrsatilgan multipart fayl qismi "
        "sifatida yuboring.",
        "en": "The upload was not sent as a file: send it as a multipart file part with a "
        "filename.",
        "ru": "Загрузка передана не как файл: отправьте её частью multipart с именем файла.",
    },
    "INVALID_EDIT": {
        "uz": "Tahrirni qoʻllab boʻlmaydi: {detail}.",
        "en": "The edit cannot be applied: {detail}.",
        "ru": "Правку нельзя применить: {detail}.",
    },
    "INVALID_STATE": {
        "uz": "Faqat xato bilan tugagan yoki bekor qilingan yozuvni qayta ishlash mumkin "
        "(holati: {status}).",
        "en": "Only a FAILED or CANCELLED recording can be retried (it is {status}).",
        "ru": "Повторить можно только запись с ошибкой или отменённую (сейчас: {status}).",
    },
    "INVALID_VOCABULARY": {
        "uz": "Lugʻat saqlanmadi: koʻpi bilan {max_terms} ta soʻz, har biri {max_chars} "
        "belgigacha, vergulsiz boʻlsin.",
        "en": "The vocabulary was not saved: at most {max_terms} terms of up to {max_chars} "
        "characters each, without commas.",
        "ru": "Словарь не сохранён: не больше {max_terms} терминов, каждый до {max_chars} "
        "символов, без запятых.",
    },
    "INVALID_PROMPT": {
        "uz": "Izoh {max_chars} belgidan oshmasin va faqat matndan iborat boʻlsin.",
        "en": "The prompt must be plain text of at most {max_chars} characters.",
        "ru": "Подсказка должна быть обычным текстом не длиннее {max_chars} символов.",
    },
    "INVALID_SPEAKER_NAME": {
        "uz": "Ism saqlanmadi: u 1 dan {max_chars} belgigacha boʻlgan oddiy matn boʻlsin.",
        "en": "The name was not saved: it must be plain text of 1 to {max_chars} characters.",
        "ru": "Имя не сохранено: нужен обычный текст длиной от 1 до {max_chars} символов.",
    },
    "UNKNOWN_SPEAKER": {
        "uz": "Matnda bunday soʻzlovchi yoʻq. Yozuvni yangilab, qayta urinib koʻring.",
        "en": "No part of the transcript has that speaker. Reload the recording and try again.",
        "ru": "В расшифровке нет такого спикера. Обновите запись и повторите.",
    },
    # Audio.speakers and exports: a speaker nobody has named yet.
    "SPEAKER_DEFAULT_NAME": {
        "uz": "Soʻzlovchi {number}",
        "en": "Speaker {number}",
        "ru": "Спикер {number}",
    },
    "UNSUPPORTED_LANGUAGE": {
        "uz": "Bu serverdagi model {language} tilini tanimaydi. Administrator "
        "WHISPER_MODELS sozlamasida shu til uchun model koʻrsatishi kerak.",
        "en": "This server's model is not known to handle {language}. An administrator "
        "has to configure a model for it in WHISPER_MODELS.",
        "ru": "Модель этого сервера не умеет распознавать язык {language}. Администратору "
        "нужно указать для него модель в WHISPER_MODELS.",
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
        "uz": "Soʻrov sxemaga mos kelmaydi (koʻrsatilgan joyda).",
        "en": "The document does not match the schema (at the locations given).",
        "ru": "Документ не соответствует схеме (в указанных местах).",
    },
    "CYRILLIC_NEEDS_UZBEK": {
        "uz": "kirill yozuvidagi eksport faqat oʻzbek tilidagi audiolar uchun; bu audioning "
        "tili: {language}",
        "en": "Uzbek Cyrillic exports are for Uzbek recordings; this recording's language is "
        "{language}",
        "ru": "экспорт на узбекской кириллице есть только у записей на узбекском; язык этой "
        "записи: {language}",
    },
    "BAD_USER_INPUT": {
        "uz": "{argument} qiymatini ishlatib boʻlmaydi: {detail}.",
        "en": "The value of {argument} cannot be used: {detail}.",
        "ru": "Значение {argument} нельзя использовать: {detail}.",
    },
    "BAD_REQUEST": {
        "uz": "Soʻrovni oʻqib boʻlmadi: {detail}.",
        "en": "The request cannot be read: {detail}.",
        "ru": "Не удалось прочитать запрос: {detail}.",
    },
    "METHOD_NOT_ALLOWED": {
        "uz": "GraphQL soʻrovlari /graphql manziliga POST bilan yuboriladi.",
        "en": "Send GraphQL requests to /graphql with POST.",
        "ru": "Отправляйте GraphQL-запросы на /graphql методом POST.",
    },
    "OPERATION_NOT_SUPPORTED": {
        "uz": "Obunalar faqat WebSocket orqali ishlaydi (/graphql, graphql-transport-ws).",
        "en": "Subscriptions run over the WebSocket only (/graphql, graphql-transport-ws).",
        "ru": "Подписки работают только через WebSocket (/graphql, graphql-transport-ws).",
    },
    "BATCHING_NOT_SUPPORTED": {
        "uz": "Har bir soʻrovda bitta operatsiya yuboring: toʻplamli soʻrovlar ishlamaydi.",
        "en": "Send one operation per request: batched requests are not supported.",
        "ru": "Отправляйте одну операцию на запрос: пакетные запросы не поддерживаются.",
    },
    "PREFLIGHT_REQUIRED": {
        "uz": "Multipart soʻrovga Apollo-Require-Preflight yoki X-Apollo-Operation-Name "
        "sarlavhasi kerak (CSRF himoyasi).",
        "en": "A multipart request needs an Apollo-Require-Preflight or "
        "X-Apollo-Operation-Name header (CSRF protection).",
        "ru": "Multipart-запросу нужен заголовок Apollo-Require-Preflight или "
        "X-Apollo-Operation-Name (защита от CSRF).",
    },
    "REQUEST_TOO_LARGE": {
        "uz": "Soʻrov juda katta: eng koʻpi {max_kb} KB (fayllar multipart bilan yuklanadi).",
        "en": "The request is too large: at most {max_kb} KB (files are uploaded as multipart).",
        "ru": "Запрос слишком большой: не более {max_kb} КБ (файлы загружаются через multipart).",
    },
    "REQUEST_TIMEOUT": {
        "uz": "Soʻrov juda sekin keldi. Ulanishni tekshirib, qayta yuboring.",
        "en": "The request arrived too slowly. Check the connection and send it again.",
        "ru": "Запрос поступал слишком медленно. Проверьте соединение и отправьте снова.",
    },
    "INVALID_API_KEY_NAME": {
        "uz": "Kalit nomi 1 dan {max} tagacha belgidan iborat boʻlsin.",
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
        "uz": "Bu manzilga webhook yuborib boʻlmaydi ({reason}). Ochiq internetdagi https "
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
        "uz": "Sizda allaqachon {limit} ta webhook bor. Yangisini qoʻshishdan oldin birini "
        "oʻchiring.",
        "en": "You already have {limit} webhooks. Delete one before adding another.",
        "ru": "У вас уже {limit} вебхуков. Удалите один, прежде чем добавить новый.",
    },
    "WEBHOOK_NOT_FOUND": {
        "uz": "Webhook topilmadi.",
        "en": "No such webhook.",
        "ru": "Вебхук не найден.",
    },
    "INTERNAL": {
        "uz": "Kutilmagan xato yuz berdi. Soʻrov raqami: {request_id}.",
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
        "uz": "Yuklandi: {content_type}, {size_mb} MB, {seconds} s, koʻrsatilgan til: {language}",
        "en": "Uploaded {content_type}, {size_mb} MB, {seconds} s, language hint {language}",
        "ru": "Загружено: {content_type}, {size_mb} МБ, {seconds} с, указанный язык: {language}",
    },
    "AUDIT_REPLACED": {
        "uz": "Matn butunlay almashtirildi ({words} soʻz)",
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
        "uz": "{model} modeli matnga aylantirdi: {words} soʻz, {seconds} s da (til: {language})",
        "en": "Transcribed by the {model} model: {words} words in {seconds} s "
        "(language: {language})",
        "ru": "Распознано моделью {model}: {words} сл. за {seconds} с (язык: {language})",
    },
    "AUDIT_COMPLETED_UNCERTAIN": {
        "uz": "{model} modeli matnga aylantirdi: {words} soʻz, {seconds} s da (til: "
        "{language}, aniq emas)",
        "en": "Transcribed by the {model} model: {words} words in {seconds} s "
        "(language: {language}, uncertain)",
        "ru": "Распознано моделью {model}: {words} сл. за {seconds} с (язык: {language}, "
        "не уверена)",
    },
    "AUDIT_FAILED_RETRY": {
        "uz": "Matnga aylantirib boʻlmadi ({attempt}-urinish, yana uriniladi): {reason}",
        "en": "Transcription failed (attempt {attempt}, will retry): {reason}",
        "ru": "Распознать не удалось (попытка {attempt}, будет повтор): {reason}",
    },
    "AUDIT_FAILED_FINAL": {
        "uz": "Matnga aylantirib boʻlmadi ({attempt}-urinish, oxirgi): {reason}",
        "en": "Transcription failed (attempt {attempt}, final): {reason}",
        "ru": "Распознать не удалось (попытка {attempt}, последняя): {reason}",
    },
    "AUDIT_REQUEUED": {
        "uz": "Qayta matnga aylantirish soʻraldi",
        "en": "Transcription requested again",
        "ru": "Запрошено повторное распознавание",
    },
    "AUDIT_CANCELLED": {
        "uz": "Matnga aylantirish bekor qilindi",
        "en": "Transcription cancelled",
        "ru": "Распознавание отменено",
    },
    "AUDIT_SPEAKER_RENAMED": {
        "uz": "{speaker} soʻzlovchining ismi oʻzgartirildi",
        "en": "Speaker {speaker} renamed",
        "ru": "Спикер {speaker} переименован",
    },
    "AUDIT_DELETED": {
        "uz": "Oʻchirildi: audio va maʼlumot kaliti yoʻq qilindi",
        "en": "Deleted, audio and data key erased",
        "ru": "Удалено: аудио и ключ данных уничтожены",
    },
    "AUDIT_ERASED": {
        "uz": "Tafsilotlar oʻchirilgan",
        "en": "Details erased",
        "ru": "Подробности стёрты",
    },
    "AUDIT_OTHER": {"uz": "{name}", "en": "{name}", "ru": "{name}"},
}


def has_message(code: str) -> bool:
    return code in _MESSAGES


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
