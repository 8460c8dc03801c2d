"""Test settings: SQLite by default; ``SMSC_TEST_DB=postgres`` for PostgreSQL 127.0.0.1/test,
``SMSC_TEST_DB=mariadb`` for MariaDB/MySQL 127.0.0.1:3306 (root, no password)."""

import os

SECRET_KEY = "tests-only"
DEBUG = False
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("ru", "Russian")]
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Django's advice for tests: PBKDF2's 1,000,000 iterations cost every admin_user, login and
# Basic-auth request ~0.3 s; MD5 makes them free (test_api 24.6 -> 4.5 s).
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

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
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
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

if os.environ.get("SMSC_TEST_DB") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "HOST": os.environ.get("PGHOST", "127.0.0.1"),
            "PORT": os.environ.get("PGPORT", "5432"),
            "NAME": os.environ.get("PGDATABASE", "test"),
            "USER": os.environ.get("PGUSER", "postgres"),
            "PASSWORD": os.environ.get("PGPASSWORD", ""),
            # Several checkouts on one machine can test at once with their own database.
            "TEST": {"NAME": os.environ.get("SMSC_TEST_PG_NAME", "test_test")},
        }
    }
elif os.environ.get("SMSC_TEST_DB") == "mariadb":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "HOST": os.environ.get("SMSC_TEST_MARIADB_HOST", "127.0.0.1"),
            "PORT": os.environ.get("SMSC_TEST_MARIADB_PORT", "3306"),
            "NAME": os.environ.get("SMSC_TEST_MARIADB_DB", "test"),  # worker processes: the test DB
            "USER": os.environ.get("SMSC_TEST_MARIADB_USER", "root"),
            "PASSWORD": os.environ.get("SMSC_TEST_MARIADB_PASSWORD", ""),
            "OPTIONS": {"charset": "utf8mb4"},
            "TEST": {
                "NAME": os.environ.get("SMSC_TEST_MARIADB_NAME", "test_smsc"),
                "CHARSET": "utf8mb4",
                "COLLATION": "utf8mb4_unicode_ci",
            },
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("SMSC_TEST_SQLITE", "smsc-test.sqlite3"),
            # BEGIN IMMEDIATE: a transaction takes the write lock up front and waits for it,
            # instead of failing with "database is locked" when it upgrades a read lock.
            "OPTIONS": {"transaction_mode": "IMMEDIATE", "timeout": 20},
            "TEST": {"NAME": os.environ.get("SMSC_TEST_SQLITE", "smsc-test.sqlite3")},
        }
    }

# Tests point this at the simulator (fixture smsc_settings); worker subprocesses get it by env.
SMSC_STATUS = {
    "LOGIN": "alex",
    "PASSWORD": "s3cret-Pa55",
    "ENDPOINT": os.environ.get("SMSC_TEST_ENDPOINT", "http://127.0.0.1:9/sys/soap.php"),
    "CHUNK_SIZE": int(os.environ.get("SMSC_TEST_CHUNK", "200")),
}

# sync: tasks run inline in tests; the real-worker tests start qcluster with SMSC_Q_SYNC=0.
Q_CLUSTER = {
    # its own queue per pytest-xdist worker (the Redis broker's list is named after it); the
    # qcluster a test starts inherits PYTEST_XDIST_WORKER and so serves the same queue
    "name": "smsc-tests" + os.environ.get("PYTEST_XDIST_WORKER", ""),
    "sync": os.environ.get("SMSC_Q_SYNC", "1") == "1",
    "poll": 0.1,
    "workers": 2,
    "timeout": 30,
    "retry": 60,
    "ack_failures": True,
    "max_attempts": 1,
    "catch_up": False,
}
if os.environ.get("SMSC_Q_BROKER") == "redis":
    Q_CLUSTER["redis"] = {"host": "127.0.0.1", "port": 6379, "db": 0}
else:
    Q_CLUSTER["orm"] = "default"

REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.BasicAuthentication",
    ],
    "DEFAULT_THROTTLE_RATES": {"smsc_refresh": "1000/min", "smsc_send": "1000/min"},
}
SPECTACULAR_SETTINGS = {"TITLE": "django-smsc-status test API", "VERSION": "0"}
