"""The example project: django-smsc-status set up the way the README tells you to.

It talks to the package's SMSC simulator (``python -m django_smsc_status.simulator``), two of
them: smsc.ru for the account "default" and smsc.kz for "kz" (``demo.py`` starts both), and runs
django-q2 with the ORM broker on SQLite. Everything here is for local use only.
"""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "example-project-only"  # never deploy this project
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "Europe/Moscow"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Русский")]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "django_q",
    "django_smsc_status",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "example_project.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("DEMO_DB", BASE_DIR / "db.sqlite3"),
        # The worker and the web process both write: take the write lock up front.
        "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
    }
}

# -- django-smsc-status ---------------------------------------------------------------------------
SMSC_STATUS = {
    "LOGIN": "demo",
    "PASSWORD": os.environ.get("DEMO_SMSC_PASSWORD", "demo"),
    "ENDPOINT": f"http://127.0.0.1:{os.environ.get('DEMO_SMSC_PORT', '8765')}/sys/soap.php",
    # Quick polling so the demo moves while you watch; the defaults suit real SMSC traffic.
    "BACKOFF_INITIAL": 15,
    "BACKOFF_MAX": 60,
    "SWEEP_INTERVAL_MINUTES": 1,
    # Status pushes: the simulators call http://127.0.0.1:8000/smsc/push/<PUSH_TOKEN>/ on each
    # change (README "Status pushes from SMSC"); a real site takes its token from the environment.
    "PUSH_TOKEN": os.environ.get("DEMO_PUSH_TOKEN", "demo-push-token-not-secret"),
    # A second account at another SMSC site (the demo simulates smsc.kz on its own port); keys
    # left out (the backoffs above) are inherited.
    "ACCOUNTS": {
        "kz": {
            "LOGIN": "demo-kz",
            "PASSWORD": os.environ.get("DEMO_SMSC_KZ_PASSWORD", "demo-kz"),
            "ENDPOINT": f"http://127.0.0.1:{os.environ.get('DEMO_SMSC_KZ_PORT', '8766')}/sys/soap.php",
            "DEFAULT_REGION": "KZ",
            "PUSH_TOKEN": os.environ.get("DEMO_KZ_PUSH_TOKEN", "demo-kz-push-token-not-secret"),
        }
    },
}

# -- django-q2: the ORM broker must be named explicitly ------------------------------------------
Q_CLUSTER = {
    "name": "smsc-demo",
    "orm": "default",
    "workers": 2,
    "timeout": 110,  # the sweep follows due messages for 90 s within it (README)
    "retry": 120,
    "ack_failures": True,
    "max_attempts": 1,
    "catch_up": False,
    "poll": 0.5,
}

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_THROTTLE_RATES": {"smsc_refresh": "60/min", "smsc_send": "20/min"},
}
SPECTACULAR_SETTINGS = {"TITLE": "django-smsc-status example API", "VERSION": "1"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_smsc_status": {"handlers": ["console"], "level": "INFO"}},
}
