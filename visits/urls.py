from django.urls import path

from . import views

app_name = "visits"

urlpatterns = [
    path("", views.workbench, name="workbench"),
    path("start/", views.start_visit, name="start"),
    path("tasks/", views.task_list, name="task_list"),
    path("tasks/new/", views.task_create, name="task_create"),
    path("tasks/<int:pk>/", views.task_detail, name="task_detail"),
    path("tasks/<int:pk>/start/", views.task_start, name="task_start"),
    path("tasks/<int:pk>/notes/", views.task_notes, name="task_notes"),
    path("tasks/<int:pk>/modules/<int:module_pk>/upload/", views.evidence_upload, name="evidence_upload"),
    path("tasks/<int:pk>/modules/<int:module_pk>/needs/", views.needs_save, name="needs_save"),
    path("tasks/<int:pk>/complete/", views.task_complete, name="task_complete"),
    path("tasks/<int:pk>/cancel/", views.task_cancel, name="task_cancel"),
    path("tasks/<int:pk>/qr.<str:fmt>", views.task_qr, name="task_qr"),
    path("t/<str:token>/", views.task_by_token, name="by_token"),
    path("pack/", views.qr_pack, name="qr_pack"),
    path("evidence/<int:pk>/file/", views.evidence_file, name="evidence_file"),
    path("evidence/<int:pk>/watermarked/", views.evidence_watermarked, name="evidence_watermarked"),
    path("evidence/<int:pk>/thumbnail/", views.evidence_thumbnail, name="evidence_thumbnail"),
    path("evidence/<int:pk>/transcript/", views.transcript_save, name="transcript_save"),
    path("templates/", views.template_list, name="template_list"),
    path("templates/<int:pk>/", views.template_detail, name="template_detail"),
    path("templates/<int:pk>/clone/", views.template_clone, name="template_clone"),
    path("api/tasks/<int:pk>/", views.api_task, name="api_task"),
    path("api/tasks/<int:pk>/complete/", views.api_task_complete, name="api_task_complete"),
]
