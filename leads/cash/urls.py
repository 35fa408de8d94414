from django.urls import path

from . import views

app_name = "cash"

urlpatterns: list = []
