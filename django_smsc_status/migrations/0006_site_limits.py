"""Limits per site and login (issue 25).

* ``AccountState`` is kept per site *and* login (``site``: ``SmscSettings.site``). Existing rows
  (per login) are copied to every site where a configured account uses that login, so a
  paused login stays paused; without usable settings they are dropped (each login then proves
  itself again with one request).
* ``AuthFailure`` goes: an error 2 now keeps one of the site's 4 request slots taken for 30
  minutes. Errors 2 of the last 30 minutes become such slots, under the new site keys (one
  key per site however its ENDPOINT is spelled).
"""

from datetime import timedelta

from django.core.exceptions import ImproperlyConfigured
from django.db import migrations, models
from django.utils import timezone

WINDOW = 1800  # limits.AUTH_ERROR_WINDOW
SITE_SLOTS = 4  # limits.SITE_SLOTS


def states_per_site(apps, schema_editor):
    from django_smsc_status.conf import account_names, get_settings

    AccountState = apps.get_model("django_smsc_status", "AccountState")
    try:
        sites: dict[str, set[str]] = {}
        for name in account_names():
            config = get_settings(name)
            sites.setdefault(config.limits_login, set()).add(config.site)
    except ImproperlyConfigured:
        sites = {}
    for state in AccountState.objects.filter(site=""):
        for site in sorted(sites.get(state.account, ())):
            AccountState.objects.update_or_create(
                site=site,
                account=state.account,
                defaults={
                    "paused_until": state.paused_until,
                    "pause_code": state.pause_code,
                    "verified_at": state.verified_at,
                },
            )
    AccountState.objects.filter(site="").delete()


def auth_failures_to_site_slots(apps, schema_editor):
    from django_smsc_status.conf import site_of

    AuthFailure = apps.get_model("django_smsc_status", "AuthFailure")
    RequestSlot = apps.get_model("django_smsc_status", "RequestSlot")
    # the login slots' keys change (login@site): old rows are never used again
    RequestSlot.objects.exclude(account__startswith="site:").exclude(account__contains="@").delete()
    recent = AuthFailure.objects.filter(occurred_at__gte=timezone.now() - timedelta(seconds=WINDOW))
    expiries: dict[str, list] = {}
    for old_key, occurred_at in recent.values_list("account", "occurred_at"):
        key = "site:" + site_of("//" + old_key.removeprefix("site:"))
        expiries.setdefault(key, []).append(occurred_at + timedelta(seconds=WINDOW))
    for key, ends in expiries.items():
        RequestSlot.objects.bulk_create(
            [RequestSlot(account=key, number=n) for n in range(SITE_SLOTS)], ignore_conflicts=True
        )
        for number, end in enumerate(sorted(ends, reverse=True)[:SITE_SLOTS]):
            RequestSlot.objects.filter(account=key, number=number).update(holder="error 2", expires_at=end)


class Migration(migrations.Migration):
    dependencies = [
        ("django_smsc_status", "0005_accounts"),
    ]

    operations = [
        migrations.AddField(
            model_name="accountstate",
            name="site",
            field=models.CharField(default="", max_length=100, verbose_name="site"),
        ),
        migrations.AlterField(
            model_name="accountstate",
            name="account",
            field=models.CharField(max_length=100, verbose_name="account"),
        ),
        migrations.AddConstraint(
            model_name="accountstate",
            constraint=models.UniqueConstraint(fields=("site", "account"), name="smsc_status_unique_site_login"),
        ),
        migrations.RunPython(states_per_site, migrations.RunPython.noop),
        migrations.RunPython(auth_failures_to_site_slots, migrations.RunPython.noop),
        migrations.DeleteModel(
            name="AuthFailure",
        ),
    ]
