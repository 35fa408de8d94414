from django.urls import path

from . import views

app_name = "dashboards"

urlpatterns = [
    path("board/", views.board, name="board"),
    path("board/<str:token>/", views.board_screen, name="board_screen"),
    path("kpis/", views.kpis, name="kpis"),
    path("kpis/contact-basis/", views.kpi_contact_basis, name="kpi_contact_basis"),
    path("kpis/<str:kpi>/records/", views.kpi_records, name="kpi_records"),
    path("kpis/<str:kpi>/suggestions/", views.kpi_suggestions, name="kpi_suggestions"),
    path("interventions/", views.intervention_list, name="interventions"),
    path("interventions/badge/", views.intervention_badge, name="intervention_badge"),
    path("interventions/<int:pk>/", views.intervention_detail, name="intervention"),
    path("reports/", views.report_list, name="reports"),
    path("reports/<int:pk>/", views.report_detail, name="report"),
    path("reports/<int:pk>/pdf/", views.report_pdf_view, name="report_pdf"),
]
