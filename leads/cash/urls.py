from django.urls import path

from . import layout_views, views

app_name = "cash"

urlpatterns: list = [
    # Quotes (C1)
    path("", views.quote_list, name="quote_list"),
    path("quotes/new/", views.quote_new, name="quote_new"),
    path("quotes/<int:pk>/", views.quote_detail, name="quote_detail"),
    path("quotes/<int:pk>/v<int:number>/", views.quote_detail, name="quote_version"),
    path("quotes/<int:pk>/v<int:number>/pdf/", views.quote_pdf_download, name="quote_pdf"),
    path("quotes/<int:pk>/diff/", views.quote_diff, name="quote_diff"),
    path("quotes/<int:pk>/lines/", views.line_add, name="line_add"),
    path("quotes/<int:pk>/lines/<int:line_pk>/", views.line_update, name="line_update"),
    path("quotes/<int:pk>/lines/<int:line_pk>/delete/", views.line_delete, name="line_delete"),
    path("quotes/<int:pk>/meta/", views.version_update, name="version_update"),
    path("quotes/<int:pk>/send/", views.quote_send, name="quote_send"),
    path("quotes/<int:pk>/revise/", views.quote_revise, name="quote_revise"),
    path("quotes/<int:pk>/reject/", views.quote_reject, name="quote_reject"),
    path("quotes/<int:pk>/discard/", views.quote_discard, name="quote_discard"),
    path("quotes/<int:pk>/confirm/", views.quote_confirm, name="quote_confirm"),
    path("quotes/<int:pk>/lost/", views.quote_lost, name="quote_lost"),
    path("quotes/<int:pk>/approval/", views.approval_request, name="approval_request"),
    path("approvals/", views.approval_list, name="approval_list"),
    path("approvals/<int:pk>/decide/", views.approval_decide, name="approval_decide"),
    path("approvals/badge/", views.nav_approval_badge, name="approval_badge"),
    # Deals, receivables, payments (C2)
    path("deals/", views.deal_list, name="deal_list"),
    path("deals/<int:pk>/", views.deal_detail, name="deal_detail"),
    path("deals/<int:pk>/payments/", views.payment_new, name="payment_new"),
    path("deals/<int:pk>/payments/<int:payment_pk>/reverse/", views.payment_reverse, name="payment_reverse"),
    path("deals/<int:pk>/payments/<int:payment_pk>/verify/", views.payment_verify, name="payment_verify"),
    path("deals/<int:pk>/plan/", views.plan_edit, name="plan_edit"),
    path("deals/<int:pk>/dates/", views.deal_dates, name="deal_dates"),
    path("receivables/", views.receivable_list, name="receivable_list"),
    path("overdue/", views.overdue, name="overdue"),
    # Bank statements (C3)
    path("statements/", views.statement_list, name="statement_list"),
    path("statements/<int:pk>/", views.statement_detail, name="statement_detail"),
    path("statements/<int:pk>/layout/", layout_views.statement_layout, name="statement_layout"),
    path("review/", views.review_queue, name="review_queue"),
    path("review/badge/", views.nav_review_badge, name="review_badge"),
    path("review/<int:pk>/", views.row_detail, name="row_detail"),
    path("review/<int:pk>/confirm/", views.row_confirm, name="row_confirm"),
    path("review/<int:pk>/allocate/", views.row_allocate, name="row_allocate"),
    path("review/<int:pk>/ignore/", views.row_ignore, name="row_ignore"),
    path("review/<int:pk>/refund/", views.row_refund, name="row_refund"),
]
