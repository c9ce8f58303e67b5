"""Routes of the batch API, included under /api/."""

from django.urls import path

from batch.api import BatchView

urlpatterns = [
    path("batch/", BatchView.as_view(), name="batch"),
]
