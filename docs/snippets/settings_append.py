# django-smsc-status: paste at the end of the settings.py of `startproject`.
import os  # Django's generated settings.py does not import it

INSTALLED_APPS += [
    "rest_framework",
    "django_filters",
    "django_q",
    "django_smsc_status",
]

# The admin and the API in the user's language ("Accept-Language: ru": Russian):
# Django's LocaleMiddleware, after SessionMiddleware and before CommonMiddleware.
MIDDLEWARE.insert(
    MIDDLEWARE.index("django.middleware.common.CommonMiddleware"),
    "django.middleware.locale.LocaleMiddleware",
)

SMSC_STATUS = {
    "LOGIN": os.environ.get("SMSC_LOGIN", "your-login"),
    # Keep the password out of the code; `manage.py check` names it if it is missing.
    "PASSWORD": os.environ.get("SMSC_PASSWORD", ""),
    # or smsc.kz, smsc.ua, smscentre.com
    "ENDPOINT": os.environ.get("SMSC_ENDPOINT", "https://smsc.ru/sys/soap.php"),
}

Q_CLUSTER = {  # django-q2: name the broker explicitly
    "name": "smsc",
    "orm": "default",
    "workers": 2,
    "timeout": 110,  # the sweep follows due messages for 90 s within it
    "retry": 120,  # keep timeout < retry
    "ack_failures": True,
    "max_attempts": 1,  # our rows keep the backoff, not django-q2
    "catch_up": False,
}

# SQLite only: let the worker and the web process wait for each other's writes.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
