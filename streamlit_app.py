"""Entry point: `streamlit run streamlit_app.py`. Who the visitor is, sidebar settings, then the pages
their role may open (app/auth.py says how sign-in works)."""

import streamlit as st

from app.auth import sign_in_panel, sign_in_required, visitor
from app.monitoring.drift_runner import start_drift_schedule
from app.navigation import record_page
from app.settings import sidebar_settings

OPERATOR_PAGES = {
    "Build": [
        ("app_pages/data.py", "Data"),
        ("app_pages/train.py", "Train"),
        ("app_pages/job.py", "Job"),
        ("app_pages/tune.py", "Tune"),
        ("app_pages/tuning_job.py", "Tuning job"),
        ("app_pages/evaluate.py", "Evaluate"),
        ("app_pages/compare.py", "Compare jobs"),
    ],
    "Operate": [
        ("app_pages/endpoints.py", "Endpoints"),
        ("app_pages/monitor.py", "Monitor"),
        ("app_pages/lambda.py", "Lambda"),
        ("app_pages/security.py", "Security"),
    ],
}
# Reached by the links of the lists (a job, a tuning job, jobs to compare), not from the navigation.
DETAIL_PAGES = {"app_pages/job.py", "app_pages/tuning_job.py", "app_pages/compare.py"}


def sign_in_first() -> None:
    st.info("This dashboard requires signing in: use the form in the sidebar.")


st.set_page_config(page_title="Dog-breed classifier", page_icon=":material/pets:", layout="wide")
start_drift_schedule()
caller = visitor()
with st.sidebar:
    st.subheader("Account")
    sign_in_panel(caller)
if caller.name is None and not caller.is_operator and sign_in_required():
    st.navigation([st.Page(sign_in_first, title="Sign in")]).run()
    st.stop()
sidebar_settings(caller)
sections: dict[str, list[st.Page]] = {
    "Use": [
        st.Page("app_pages/overview.py", title="Overview", default=True),
        st.Page("app_pages/predict.py", title="Predict"),
    ]
}
for section, pages in OPERATOR_PAGES.items():
    if caller.is_operator:
        sections[section] = [
            st.Page(path, title=title, visibility="hidden" if path in DETAIL_PAGES else "visible")
            for path, title in pages
        ]
    else:  # a viewer gets no link, and the page's own guard refuses its URL (app/auth.py: operators_only)
        sections.setdefault("", []).extend(st.Page(path, title=title, visibility="hidden") for path, title in pages)
page = st.navigation(sections)
record_page(page.url_path)
page.run()
