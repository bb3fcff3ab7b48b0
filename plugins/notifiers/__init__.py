"""Notifiers of the Sparkify pipeline (Airflow 3 ``BaseNotifier`` subclasses)."""

from notifiers.json_webhook import JsonWebhookNotifier

__all__ = ["JsonWebhookNotifier"]
