"""Pagination (size, offset, next) over 2,500 consumers and tag filtering (a,b = AND, a/b = OR)
as Kong 3.x. The module's control plane holds only what this module creates."""
import concurrent.futures
import time
import urllib.parse

import pytest

from test_admin_common import api, expect, uniq  # noqa: F401  (api is a fixture)

N = 2500


@pytest.fixture(scope="module")
def many(api):
    """2,500 consumers made by parallel POSTs; every 3rd tagged `third`, every 5th `fifth`,
    all `bulk`. Returns {username: entity}."""
    def body(i):
        tags = ["bulk"]
        if i % 3 == 0:
            tags.append("third")
        if i % 5 == 0:
            tags.append("fifth")
        return {"username": f"bulk-{i:05d}", "tags": tags}

    clients = {}

    def post(i):
        import threading
        c = clients.setdefault(threading.get_ident(), api.fresh())
        r = c.post("/consumers", json=body(i))
        assert r.status_code == 201, r.text
        return r.json()

    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        made = list(pool.map(post, range(N)))
    took = time.time() - t0
    for c in clients.values():
        c.close()
    assert took < 60, f"creating {N} consumers took {took:.1f}s"
    return {e["username"]: e for e in made}


def walk(api, first):
    """Follows next links from first; returns (entities, pages)."""
    out, pages, url = [], [], first
    while url is not None:
        page = expect(api.get(url), 200)
        pages.append(page)
        out += page["data"]
        url = page["next"]
        assert len(pages) <= N + 1
    return out, pages


def test_default_page_is_100(api, many):
    page = expect(api.get("/consumers"), 200)
    assert len(page["data"]) == 100
    assert isinstance(page["offset"], str) and page["offset"]
    assert page["next"].startswith("/consumers?")
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(page["next"]).query)
    assert q["offset"] == [page["offset"]]


@pytest.mark.parametrize("size", [1000, 100, 7])
def test_walk_every_page(api, many, size):
    t0 = time.time()
    got, pages = walk(api, f"/consumers?size={size}")
    ids = [e["id"] for e in got]
    assert len(ids) == len(set(ids)) == N, "every consumer exactly once"
    assert {e["username"] for e in got} == set(many)
    full, last = divmod(N, size)
    assert [len(p["data"]) for p in pages] == [size] * full + ([last] if last else [])
    # `next` carries size; the last page has next null and no offset
    assert f"size={size}" in pages[0]["next"]
    assert pages[-1]["next"] is None and "offset" not in pages[-1]
    # entities on pages are the whole entity, as GET by id returns it
    one = got[len(got) // 2]
    assert one == many[one["username"]]
    assert time.time() - t0 < 30


def test_offset_is_stable_across_writes(api, many):
    first = expect(api.get("/consumers?size=500"), 200)
    # a new consumer between two pages neither repeats nor drops the ones already paged
    api.consumer()
    rest, _ = walk(api, first["next"])
    seen = [e["id"] for e in first["data"]] + [e["id"] for e in rest]
    assert len(seen) == len(set(seen))
    assert set(e["id"] for e in many.values()) <= set(seen)


@pytest.mark.parametrize("query,body", [
    ("size=0", {"code": 9, "name": "invalid size",
                "message": "size must be an integer between 1 and 1000"}),
    ("size=1001", {"code": 9, "name": "invalid size",
                   "message": "size must be an integer between 1 and 1000"}),
    ("size=abc", {"code": 9, "name": "invalid size", "message": "size must be a number"}),
    ("offset=!!!", {"code": 7, "name": "invalid offset",
                    "message": "'!!!' is not a valid offset: bad base64 encoding"}),
])
def test_pagination_errors(api, query, body):
    expect(api.get(f"/consumers?{query}"), 400, body)


def test_size_1000_is_allowed_and_unknown_args_ignored(api, many):
    page = expect(api.get("/consumers?size=1000&sort_desc=1&foo=bar"), 200)
    assert len(page["data"]) == 1000


def test_nested_list_next_link(api):
    s = api.service()
    for i in range(5):
        api.route(service={"id": s["id"]})
    page = expect(api.get(f"/services/{s['id']}/routes?size=2"), 200)
    assert len(page["data"]) == 2
    assert page["next"].startswith(f"/services/{s['id']}/routes?")
    got, pages = walk(api, f"/services/{s['id']}/routes?size=2")
    assert len({e["id"] for e in got}) == 5 and len(pages) == 3


def test_tag_single(api, many):
    got, _ = walk(api, "/consumers?tags=fifth&size=1000")
    assert len(got) == N // 5
    assert all("fifth" in e["tags"] for e in got)


def test_tags_and(api, many):
    got, _ = walk(api, "/consumers?tags=third,fifth&size=1000")
    expected = {u for u, e in many.items() if "third" in e["tags"] and "fifth" in e["tags"]}
    assert {e["username"] for e in got} == expected
    assert len(expected) == len(range(0, N, 15))


def test_tags_or(api, many):
    got, _ = walk(api, "/consumers?tags=third/fifth&size=1000")
    expected = {u for u, e in many.items() if "third" in e["tags"] or "fifth" in e["tags"]}
    assert {e["username"] for e in got} == expected
    assert len(got) == len(expected)


def test_tags_paginate_and_next_keeps_tags(api, many):
    page = expect(api.get("/consumers?tags=third&size=100"), 200)
    assert len(page["data"]) == 100
    q = urllib.parse.parse_qs(urllib.parse.urlsplit(page["next"]).query)
    assert q["tags"] == ["third"] and q["size"] == ["100"]
    got, pages = walk(api, "/consumers?tags=third&size=100")
    assert len(got) == len({e["id"] for e in got}) == len(range(0, N, 3))


def test_tags_unknown_gives_empty(api):
    expect(api.get(f"/consumers?tags={uniq('nothing')}"), 200, {"data": [], "next": None})


def test_tag_filter_on_other_entities(api):
    t = uniq("ent")
    s = api.service(tags=[t, "a"])
    api.service(tags=["a"])
    r = api.route(tags=[t])
    p = api.create("/plugins", {"name": "cors", "tags": [t],
                                "service": {"id": s["id"]}})
    u = api.upstream(tags=[t])
    for coll, ent in (("services", s), ("routes", r), ("plugins", p), ("upstreams", u)):
        expect(api.get(f"/{coll}?tags={t}"), 200, {"data": [ent], "next": None})


def test_unicode_tag(api):
    c = api.consumer(tags=["🦍", "corp"])
    page = expect(api.get("/consumers?tags=🦍"), 200)
    assert [e["id"] for e in page["data"]] == [c["id"]]


def test_nested_lists_ignore_tags(api):
    c = api.consumer()
    p = api.create(f"/consumers/{c['id']}/plugins", {"name": "rate-limiting",
                                                     "config": {"minute": 1},
                                                     "tags": ["mine"]})
    page = expect(api.get(f"/consumers/{c['id']}/plugins?tags=other"), 200)
    assert [e["id"] for e in page["data"]] == [p["id"]]


@pytest.mark.parametrize("query,message", [
    ("tags=a,b/c", "invalid option (tags: invalid filter syntax)"),
    ("tags=a/b,c", "invalid option (tags: invalid filter syntax)"),
    ("tags=foo%20bar", "invalid option (tags: invalid filter syntax)"),
    ("tags=%FF", "invalid option (tags: invalid filter syntax)"),
    ("tags=", "invalid option (tags: cannot be null)"),
    ("tags=a,b,c,d,e,f", "invalid option (tags: cannot query more than 5 tags)"),
])
def test_tag_filter_errors(api, query, message):
    r = api.get(f"/consumers?{query}")
    assert r.status_code == 400, r.text
    body = r.json()
    assert body["code"] == 11 and body["name"] == "invalid options", body
    assert body["message"] == message


def test_five_tags_are_allowed(api):
    c = api.consumer(tags=["t1", "t2", "t3", "t4", "t5"])
    page = expect(api.get("/consumers?tags=t1,t2,t3,t4,t5"), 200)
    assert [e["id"] for e in page["data"]] == [c["id"]]


def test_offset_survives_deleting_the_row_it_points_after(api):
    tag = uniq("del")
    made = {api.consumer(tags=[tag])["id"] for _ in range(30)}
    first = expect(api.get(f"/consumers?tags={tag}&size=10"), 200)
    assert len(first["data"]) == 10
    gone = first["data"][-1]["id"]
    expect(api.delete(f"/consumers/{gone}"), 204)
    rest, _ = walk(api, first["next"])
    seen = [e["id"] for e in first["data"]] + [e["id"] for e in rest]
    assert len(seen) == len(set(seen)) == 30
    assert set(seen) == made
