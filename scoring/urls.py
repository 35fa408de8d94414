from django.urls import path

from . import views

app_name = "scoring"

urlpatterns = [
    path("", views.my_points, name="mine"),
    path("people/<int:user_id>/", views.person_points, name="person_points"),
    path("team/", views.team_points, name="team"),
    path("board/", views.board, name="board"),
    path("board/drill/", views.board_drill, name="board_drill"),
    path("statement/", views.my_statement, name="statement"),
    path("statement/<int:user_id>/", views.person_statement, name="person_statement"),
    path("statement/<int:user_id>/pdf/", views.statement_pdf, name="statement_pdf"),
    path("splits/", views.split_list, name="splits"),
    path("splits/<int:pk>/", views.split_detail, name="split_detail"),
    path("splits/<int:pk>/approve/", views.split_approve_view, name="split_approve"),
    path("splits/<int:pk>/correct/", views.split_correct_view, name="split_correct"),
    path("activities/<int:pk>/", views.activity_detail, name="activity"),
    path("reviews/", views.review_queue, name="reviews"),
    path("reviews/<int:pk>/decide/", views.review_decide, name="review_decide"),
    path("contacts/<int:pk>/verify/", views.contact_verify, name="contact_verify"),
]
