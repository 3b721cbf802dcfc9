"""Pagination checks: sizes, tokens and walks."""

from dataclasses import replace

from hypothesis import strategies as st

from ..query import MAX_SIZE, Query, parse_filters
from ..session import Finding, NoData, Session, SkipCheck
from ..xmlmodel import ListResponse
from .base import (
    PAGE_OBSERVERS,
    check,
    check_matches,
    data_queries,
    error_doc,
    fail,
    full,
    job_ids,
    observed,
    queries,
    repeated,
    single_filter_queries,
    tie_difference,
    valid_filters,
)
from .profile import pin


@check(
    "no job appears twice in a walk",
    given=queries,
    judges_jobs=True,
    anchor="page-walk",
)
def no_duplicates(s: Session, query: Query) -> None:
    walk = s.walk(query)
    if dupes := repeated(walk.ids):
        fail(
            f"{len(dupes)} job(s) appear twice in the walk, e.g. {dupes[0]}", query, walk.exchanges
        )


@check(
    "no page holds more than size jobs, none followed by a token is empty",
    given=queries,
    judges_jobs=True,
    anchor="page-size",
)
def page_sizes(s: Session, query: Query) -> None:
    walk = s.walk(query)
    size = parse_filters(query).size
    for n, page in enumerate(walk.pages, start=1):
        if found := page_findings(query, page.body):  # too many jobs, or none before a token
            fail(f"page {n}: {found[0][1]}", query, [page.exchange])
        if page.body.next_token and len(page.body.jobs) < size:
            pin(s, "page_fill", "short", query, page.exchange)


@check(
    "without size a page holds at most 10 jobs, and all of them when no token follows",
    given=data_queries,
    judges_jobs=True,
    anchor="page-size",
)
def default_size_is_10(s: Session, query: Query) -> None:
    page = s.page(replace(query, size=None, next_token=None))
    total = len(s.walk(full(query)).jobs)
    got, want = len(page.body.jobs), min(10, total)
    if got < want and got and page.body.next_token:
        pin(s, "page_fill", "short", query, page.exchange)
    elif got != want:
        said = f"the default size 10 and {total} matching jobs give {want}"
        fail(f"the first page holds {got} jobs; {said}", replace(query, size=None), [page.exchange])


@check(
    "size > 100 is refused with 400 InvalidArgument or clamped to 100",
    given=lambda s: st.integers(101, 100_000),
    anchor="page-size",
    edges=lambda _: [101],
)
def size_over_100(s: Session, size: int) -> None:
    query = Query(size=str(size))
    if (ex := s.list(query)).status in (200, 400):
        pin(s, "size_over_100", "clamp" if ex.status == 200 else "refuse", query, ex)
    if ex.status != 200:  # 400 with an XML Error, or a failure naming both choices
        error_doc(ex, query, (200, 400), f"size={size}")
        return
    count = len(s.page(query).body.jobs)
    want = len(s.page(Query(size="100")).body.jobs)  # size=100's first page
    if count > MAX_SIZE or count != want:
        fail(f"size={size} returned {count} jobs; clamping to 100 gives {want}", query, [ex])


@check(
    "a walk ends within ⌈N/size⌉+1 requests (N+1 when pages may be short)",
    given=queries,
    judges_jobs=True,
    anchor="page-walk",
)
def walk_terminates(s: Session, query: Query) -> None:
    walk = s.walk(query)  # the walk itself refuses endless and looping tokens
    size = parse_filters(query).size
    if any(len(p.body.jobs) < size for p in walk.pages[:-1]):
        size = 1  # short pages (an open point): each page followed by a token holds a job
    bound = -(-len(set(walk.ids)) // size) + 1
    if len(walk.pages) > bound:
        said = f"{len(walk.pages)} requests for {len(walk.ids)} jobs with size={size}"
        fail(f"{said} (at most {bound})", query, walk.exchanges[-2:])


@check(
    "a walk equals the same filters walked with size=100, up to ties",
    given=queries,
    judges_jobs=True,
    anchor="page-walk",
)
def walk_independent_of_size(s: Session, query: Query) -> None:
    small, big = s.walk(query), s.walk(full(query))
    if diff := tie_difference(small.jobs, big.jobs):
        said = f"the size={query.size or 'default'} walk differs from the size=100 walk"
        fail(f"{said}: {diff}", query, small.exchanges[-2:] + big.exchanges[-1:])


@check(
    "re-sending a NextToken gives the same page",
    given=data_queries,
    anchor="page-token",
)
def token_replay(s: Session, query: Query) -> None:
    query = replace(query, size=query.size or "3", next_token=None)
    if not (token := s.page(query).body.next_token):
        raise SkipCheck("the query has a single page")
    second, again = (s.page(replace(query, next_token=token)) for _ in range(2))
    if [j.job_id for j in again.body.jobs] != [j.job_id for j in second.body.jobs]:
        fail("the same NextToken gave a different page", query, [second.exchange, again.exchange])


@check(
    "filters stay in force on every later page",
    given=single_filter_queries,
    judges_jobs=True,
    anchor="page-token",
)
def filters_persist(s: Session, batch: list[Query]) -> None:
    for query in batch:
        walk = s.head(replace(query, size="2"), pages=4)
        check_matches(walk, first_page=1)


def page_findings(query: Query, body: ListResponse) -> list[Finding]:
    """Every page the run sees holds at most ``size`` jobs, and one at least when a token
    follows (a short one is an open point, judged by the profile's pin)."""
    if (f := valid_filters(query)) is None:
        return []
    name = "pagination.every_page_within_size"
    n, asked = len(body.jobs), f"size={query.size or '(default 10)'}"
    if n > f.size:
        return [(name, f"a page holds {n} jobs with {asked}")]
    if body.next_token and not n:
        return [(name, f"an empty page with {asked} has a NextToken")]
    return []


PAGE_OBSERVERS.append(page_findings)
observed(
    "pagination",
    "every_page_within_size",
    "every page of the run holds at most size jobs, and one at least when a NextToken follows",
    lambda s, q: s.head(q, pages=5),
    anchor="page-size",
)


GARBAGE = st.sampled_from(
    ["!!not-a-token!!", "%00", "../../etc/passwd", "-1", "a" * 300, "<x/>", ".é", "令牌.令牌"]
) | st.text(st.characters(exclude_categories=("Cc", "Cs")), min_size=1, max_size=30).map(
    lambda t: "~" + t + "." + t  # any text, a dot as tokens often have: never a 5xx
)


@check(
    "a nextToken the server did not issue gets 400 InvalidArgument",
    given=lambda _: GARBAGE,
    anchor="page-foreign-token",
)
def garbage_token_refused(s: Session, token: str) -> None:
    query = Query(size="5", next_token=token)
    error_doc(s.list(query, probe=True), query, (400,), f"nextToken={token!r}")


@check(
    "a token issued for other filters, or altered, gets 400 or a page that keeps the filters in force; never a 5xx",
    given=data_queries,
    anchor="page-foreign-token",
)
def foreign_token_safe(s: Session, query: Query) -> None:
    other = s.head(Query(size="2"), pages=2)
    if len(other.pages) < 2:
        raise NoData("the target has too few jobs for a second page")
    token = other.pages[0].body.next_token or ""
    flipped = token[:-1] + ("A" if token[-1:] != "A" else "B")
    f = parse_filters(query)
    for candidate in (token, flipped, token + "0"):
        q = replace(query, next_token=candidate)
        ex = s.list(q, probe=True)  # its page, if any, is judged here, not as part of a walk
        if ex.status != 200:
            error_doc(ex, q, (400,), "a foreign or tampered nextToken")
        elif broken := [b for j in s.page(q, probe=True).body.jobs for b in f.broken(j)]:
            fail(f"a foreign token gave a page that breaks the filters: {broken[0]}", q, [ex])


@check(
    "jobs created during a walk make it skip no job that existed before, and it ends; a job may come twice",
    anchor="page-writes",
)
def writes_during_walk(s: Session) -> None:
    """A Desc walk in pages of 3 that creates a job after each page (30 at most). Repeats are
    allowed (docs/contract.md#open-writes-during-walk): with tokens that are positions in the
    list, each creation moves the walk back by one job. A job that existed before the walk and
    never comes, or a walk that does not end, fails."""
    s.require_writes()
    # on a large target, the newest slice and what comes after it
    since = s.bounded(Query()).start_creation_time if s.census().sliced else None
    before = s.walk(Query(size="100", start_creation_time=since))
    walked = Query(size="3", start_creation_time=since)
    most = 30  # creations; each may move the walk back by one job
    pages, token, returned = [], None, 0
    limit = len(before.jobs) + most + 3  # jobs a walk can return; pages may be short
    while len(pages) < limit and returned < limit:
        pages.append(page := s.page(replace(walked, next_token=token)))
        returned += len(page.body.jobs)
        if len(pages) <= most:  # a create after each page
            s.create("ci-conformance_probe")  # a name the vendor allows (checks/model.py NAMES)
        if (token := page.body.next_token or None) is None:
            break
    s.forget_walks()
    ids = [j.job_id for p in pages for j in p.body.jobs]
    seen, twice = set(ids), repeated(ids)
    s.coverage.met("writes_during_walk", "repeats" if twice else "stable", pages[-1].exchange)
    skipped = [i for i in before.ids if i not in seen]
    said = f"a walk of {len(pages)} pages (size=3) during {min(len(pages), most)} creations"
    if twice:
        said += f" returned {len(twice)} job(s) twice (allowed: {job_ids(twice)}) and"
    if token is not None:
        fail(
            f"{said} had not ended after {len(pages)} pages for {len(before.jobs)} jobs",
            walked,
            [p.exchange for p in pages[-2:]],
        )
    if skipped:
        at = before.ids.index(skipped[0]) // 3  # the pages around where it belonged
        fail(
            f"{said} skipped {len(skipped)} job(s) that existed before it began: {job_ids(skipped)}",
            walked,
            [p.exchange for p in pages[max(0, at - 1) : at + 1]],
        )
