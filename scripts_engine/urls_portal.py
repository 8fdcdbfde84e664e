"""Script pages of a client company's portal (tenant host)."""

from django.urls import path

from scripts_engine.views import nodes, portal, testrun

urlpatterns = [
    path("scripts/", portal.script_list, name="script_list"),
    path("scripts/lists/", portal.company_lists, name="script_lists"),
    path("scripts/lists/<str:which>/<int:pk>/delete/", portal.company_list_delete, name="script_list_delete"),
    path("scripts/<int:pk>/", portal.script_detail, name="script_detail"),
    path("scripts/versions/<int:pk>/", portal.version_detail, name="script_version"),
    path("scripts/versions/<int:pk>/diagram/", portal.version_diagram, name="script_diagram"),
    path("scripts/versions/<int:pk>/settings/", portal.version_settings, name="script_settings"),
    path("scripts/versions/<int:pk>/import/", portal.version_import, name="script_import"),
    path("scripts/versions/<int:pk>/export/", portal.version_export, name="script_export"),
    path("scripts/versions/<int:pk>/submit/", portal.version_submit, name="script_submit"),
    path("scripts/versions/<int:pk>/activate/", portal.version_activate, name="script_activate"),
    path("scripts/versions/<int:pk>/new-draft/", portal.version_new_draft, name="script_new_draft"),
    path("scripts/versions/<int:pk>/nodes/", nodes.node_add, name="script_node_add"),
    path("scripts/versions/<int:pk>/nodes/<str:node_id>/", nodes.node_edit, name="script_node"),
    path("scripts/versions/<int:pk>/nodes/<str:node_id>/check/", nodes.node_check, name="script_node_check"),
    path(
        "scripts/versions/<int:pk>/nodes/<str:node_id>/delete/", nodes.node_delete, name="script_node_delete"
    ),
    path("scripts/versions/<int:pk>/test/", testrun.testrun_start, name="script_testrun_start"),
    path("scripts/test/<int:pk>/", testrun.testrun, name="script_testrun"),
]
