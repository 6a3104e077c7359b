"""Entry point: `streamlit run streamlit_app.py`. Who the visitor is, sidebar settings, then the pages
their role may open (app/auth.py says how sign-in works)."""

import streamlit as st

from app.auth import sign_in_panel, sign_in_required, visitor
from app.navigation import record_page
from app.settings import sidebar_settings

OPERATOR_PAGES = {
    "Build": [
        ("dashboard_pages/data.py", "Data"),
        ("dashboard_pages/train.py", "Train"),
        ("dashboard_pages/job.py", "Job"),
        ("dashboard_pages/tune.py", "Tune"),
        ("dashboard_pages/tuning_job.py", "Tuning job"),
        ("dashboard_pages/compare.py", "Compare jobs"),
    ],
    "Operate": [
        ("dashboard_pages/endpoints.py", "Endpoints"),
        ("dashboard_pages/lambda.py", "Lambda"),
        ("dashboard_pages/security.py", "Security"),
    ],
}
# Reached by the links of the lists (a job, a tuning job, jobs to compare), not from the navigation.
DETAIL_PAGES = {"dashboard_pages/job.py", "dashboard_pages/tuning_job.py", "dashboard_pages/compare.py"}


def operators_only(title: str, url_path: str) -> st.Page:
    """What a viewer gets at an operator page's URL: a refusal, not the page (and no link to it)."""

    def refuse() -> None:
        st.title(title)
        st.error(f"The {title} page is for operators. Sign in as an operator in the sidebar to open it.")

    return st.Page(refuse, title=title, url_path=url_path, visibility="hidden")


def sign_in_first() -> None:
    st.info("This dashboard requires signing in: use the form in the sidebar.")


st.set_page_config(page_title="Dog-breed classifier", page_icon="🐕", layout="wide")
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
        st.Page("dashboard_pages/overview.py", title="Overview", default=True),
        st.Page("dashboard_pages/predict.py", title="Predict"),
    ]
}
for section, pages in OPERATOR_PAGES.items():
    if caller.is_operator:
        sections[section] = [
            st.Page(path, title=title, visibility="hidden" if path in DETAIL_PAGES else "visible")
            for path, title in pages
        ]
    else:
        sections.setdefault("", []).extend(
            operators_only(title, path.removeprefix("dashboard_pages/").removesuffix(".py")) for path, title in pages
        )
page = st.navigation(sections)
record_page(page.url_path)
page.run()
