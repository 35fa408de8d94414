from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from visits import pwa as visits_pwa

from . import imports_views, push, views
from .admin import register_history_logs

register_history_logs()

customer_patterns = (
    [
        path("", views.customer_list, name="list"),
        path("<int:pk>/", views.customer_detail, name="detail"),
        path("<int:pk>/edit/", views.customer_edit, name="edit"),
        path("<int:pk>/reveal-phone/", views.customer_reveal_phone, name="reveal_phone"),
    ],
    "customers",
)

hospital_patterns = (
    [
        path("", views.hospital_list, name="list"),
        path("<int:pk>/", views.hospital_detail, name="detail"),
    ],
    "hospitals",
)

import_patterns = (
    [
        path("", imports_views.import_list, name="list"),
        path("<str:kind>/new/", imports_views.import_upload, name="upload"),
        path("<str:kind>/template.xlsx", imports_views.import_template, name="template"),
        path("job/<int:pk>/", imports_views.import_detail, name="detail"),
        path("job/<int:pk>/confirm/", imports_views.import_confirm_view, name="confirm"),
        path("job/<int:pk>/cancel/", imports_views.import_cancel_view, name="cancel"),
    ],
    "imports",
)

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("healthz", views.healthz, name="healthz"),
    path("manifest.webmanifest", visits_pwa.manifest, name="pwa_manifest"),
    path("sw.js", visits_pwa.service_worker, name="service_worker"),
    path("push/key/", push.push_key, name="push_key"),
    path("push/subscriptions/", push.push_subscription_save, name="push_subscribe"),
    path("accounts/login/", auth_views.LoginView.as_view(template_name="registration/login.html"), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    # R5: password reset by e-mail and password change (Chinese templates in templates/registration/).
    path("accounts/password_reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("accounts/password_reset/done/", auth_views.PasswordResetDoneView.as_view(), name="password_reset_done"),
    path("accounts/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(), name="password_reset_confirm"),
    path("accounts/reset/done/", auth_views.PasswordResetCompleteView.as_view(), name="password_reset_complete"),
    path("accounts/password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("accounts/password_change/done/", auth_views.PasswordChangeDoneView.as_view(), name="password_change_done"),
    path("accounts/wecom/login/", views.wecom_login, name="wecom_login"),
    path("accounts/wecom/callback/", views.wecom_callback, name="wecom_callback"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("customers/", include(customer_patterns)),
    path("hospitals/", include(hospital_patterns)),
    path("imports/", include(import_patterns)),
    path("api/v1/", include("leads.api_urls")),
    path("leads/", include("leads.urls")),
    path("cash/", include("leads.cash.urls")),
    path("visits/", include("visits.urls")),
    path("scoring/", include("scoring.urls")),
    path("", include("dashboards.urls")),
    path("admin/", admin.site.urls),
]
