# views.py: a one-time code by SMS, with a call as the fallback
from django.db import transaction
from django.http import JsonResponse

from django_smsc_status import service


@transaction.non_atomic_requests
def send_code(request):
    phone, code = request.POST["phone"], "4242"  # your own code generator here
    (message,) = service.send(phone, f"Your code: {code}")
    message = service.wait_for_status(message, timeout=20)  # checked at 5 s, 20 s
    if message.status_info.is_success:  # delivered, read
        return JsonResponse({"sent": "sms"})
    return JsonResponse({"sent": "sms", "offer_call": True})  # no delivery in 20 s
