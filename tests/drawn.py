"""Lists of drawn jobs with unique IDs, for the tests of the model and the oracle."""

from hypothesis import strategies as st

from conformance.strategies import jobs
from conformance.xmlmodel import Job


@st.composite
def job_lists(draw: st.DrawFn, max_size: int = 30) -> list[Job]:
    hex_ids = st.text("0123456789abcdef", min_size=6, max_size=6)
    ids = draw(st.lists(hex_ids, unique=True, max_size=max_size))
    return [draw(jobs(job_id=i)) for i in ids]
