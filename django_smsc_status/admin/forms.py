"""Registering a message sent elsewhere, from the admin's add page."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _

from .. import validation
from ..conf import DEFAULT_ACCOUNT, account_names, get_settings
from ..models import SentMessage


class RegisterForm(forms.ModelForm):
    """Register a message sent elsewhere; a duplicate is reported once, not created again."""

    # First, so that the phone is read in the chosen account's DEFAULT_REGION.
    account = forms.ChoiceField(
        label=capfirst(_("account")),  # as Django labels the model's fields
        initial=DEFAULT_ACCOUNT,
        required=False,  # left out: the default account, as service.register does
        help_text=_("The SMSC account (in SMSC_STATUS) the message was sent through."),
    )

    class Meta:
        model = SentMessage
        fields = ("account", "smsc_id", "phone", "text", "sender")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Read now, not at import: settings may change (override_settings, a reload).
        self.fields["account"].choices = [(name, name) for name in account_names()]  # type: ignore[attr-defined]

    def clean_account(self) -> str:
        return self.cleaned_data.get("account") or DEFAULT_ACCOUNT

    def clean_smsc_id(self) -> str:
        return validation.clean_smsc_id(self.cleaned_data["smsc_id"])

    def clean_phone(self) -> str:
        account = self.cleaned_data.get("account")
        region = get_settings(account).default_region if account else None
        return validation.normalize_phone(self.cleaned_data["phone"], region)

    def clean_text(self) -> str:
        return validation.clean_text(self.cleaned_data.get("text"))

    def clean_sender(self) -> str:
        return validation.clean_sender(self.cleaned_data.get("sender"))

    def clean(self) -> dict:
        super().clean()
        data = self.cleaned_data
        if data.get("smsc_id") and data.get("phone"):
            existing = SentMessage.objects.filter(
                account=data.get("account", DEFAULT_ACCOUNT), smsc_id=data["smsc_id"], phone=data["phone"]
            ).first()
            if existing:
                # On the field, so the model's unique constraint (which skips fields with errors)
                # does not report the same duplicate a second time.
                self.add_error(
                    "smsc_id",
                    ValidationError(
                        _("This message is already tracked (#%(pk)s)."),
                        code="duplicate",
                        params={"pk": existing.pk},
                    ),
                )
        return data
