"""Entry point: `streamlit run streamlit_app.py`. Sidebar settings, then the page the visitor chose."""

import streamlit as st

from app.navigation import record_page
from app.settings import sidebar_settings

st.set_page_config(page_title="Dog-breed classifier", page_icon="🐕", layout="wide")
sidebar_settings()
page = st.navigation(
    [
        st.Page("pages/overview.py", title="Overview", default=True),
        st.Page("pages/predict.py", title="Predict"),
        st.Page("pages/data.py", title="Data"),
        st.Page("pages/train.py", title="Train"),
        st.Page("pages/job.py", title="Job"),
        st.Page("pages/compare.py", title="Compare jobs"),
        st.Page("pages/endpoint.py", title="Endpoint"),
    ]
)
record_page(page.url_path)
page.run()
