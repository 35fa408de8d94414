from django.shortcuts import render  # noqa: F401
