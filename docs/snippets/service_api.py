from django_smsc_status import service
from django_smsc_status.models import SentMessage

message, created = service.register("12345", "+7 999 123-45-67", text="Your code: 4242")
messages = service.send(["79991234567"], "Your code: 4242", sender="MyShop")
result = service.refresh(message)  # RefreshResult
result.outcome  # changed | unchanged | too_soon |
#                 request_error | transport_error | refused |
#                 quarantined | failed
result.message.status, result.snapshot, result.error, result.retry_after
queryset = SentMessage.objects.filter(account="default")
results = service.refresh_many(queryset)  # one result per message, in parallel
report = service.refresh_selection(queryset)  # any number: counts per outcome
report = service.refresh_due()  # the sweep: counts per outcome
service.balance()  # Decimal
service.reset_breaker()  # after fixing credentials
service.account_status()  # breaker, half-open, auth errors, next call
service.stats(queryset, group_by="operator")  # delivery figures per group (below)
service.prune(90, message_days=365)  # retention (below)
