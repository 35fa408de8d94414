from django.urls import path

from . import exports, views

app_name = "leads"

urlpatterns = [
    path("", views.my_leads, name="mine"),
    path("team/", views.team_leads, name="team"),
    path("export.xlsx", exports.lead_export, name="export"),
    path("<int:pk>/", views.lead_detail, name="detail"),
    path("<int:pk>/acknowledge/", views.acknowledge, name="acknowledge"),
    path("<int:pk>/reveal-phone/", views.reveal_phone, name="reveal_phone"),
    path("<int:pk>/contacts/", views.contact_create, name="contact"),
    path("<int:pk>/reassign/", views.reassign, name="reassign"),
    path("reassign/", views.reassign_picked, name="reassign_picked"),
    path("<int:pk>/close/", views.close, name="close"),
    path("ack/<str:token>/", views.ack_link, name="ack_link"),
    path("paste/", views.paste, name="paste"),
    path("paste/jobs/<int:pk>/", views.paste_job, name="paste_job"),
    path("form/", views.public_form, name="public_form"),
    path("rules/", views.rules_list, name="rules"),
    path("rules/<int:pk>/simulate/", views.rules_simulate, name="simulate"),
    path("rules/<int:pk>/publish/", views.rules_publish_view, name="publish"),
    path("inbox/", views.inbox, name="inbox"),
    path("inbox/badge/", views.inbox_badge, name="inbox_badge"),
    path("inbox/read/", views.inbox_read, name="inbox_read"),
]
