"""Login of a dashboard served beyond loopback: pages and callbacks refuse requests without it (401)."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from conftest import DATA

from dashboard.app import create_app
from dashboard.auth import AuthError, Login, login_for
from dashboard.data import HubData


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture
def client(tmp_path: Path):  # type: ignore[no-untyped-def]
    from twin.registry import TwinRegistry

    data = HubData(registry=TwinRegistry.from_dir(DATA / "small-branch.yaml"), store_url=str(tmp_path / "s.duckdb"),
                   results_dir=tmp_path / "results")
    app = create_app(data, login=Login.from_password("ops", "s3cret"), background=False)
    return app.server.test_client()


def test_pages_and_callbacks_refuse_requests_without_the_login(client) -> None:  # type: ignore[no-untyped-def]
    callback = {"output": "page.children", "outputs": {"id": "page", "property": "children"},
                "inputs": [{"id": "url", "property": "pathname", "value": "/devices"}],
                "changedPropIds": ["url.pathname"]}
    for path in ("/", "/devices", "/_dash-layout", "/_dash-dependencies"):
        r = client.get(path)
        assert r.status_code == 401, path
        assert r.headers["WWW-Authenticate"].startswith("Basic")
    assert client.post("/_dash-update-component", json=callback).status_code == 401
    assert client.post("/_dash-update-component", json=callback, headers=basic("ops", "wrong")).status_code == 401
    assert client.get("/", headers=basic("other", "s3cret")).status_code == 401
    # with the login: the page and the callback answer
    assert client.get("/", headers=basic("ops", "s3cret")).status_code == 200
    r = client.post("/_dash-update-component", json=callback, headers=basic("ops", "s3cret"))
    assert r.status_code == 200 and b"dead letters" in r.data


def test_the_password_is_required_off_loopback_and_kept_hashed(tmp_path: Path) -> None:
    assert login_for("127.0.0.1", env={}) is None
    with pytest.raises(AuthError, match="needs a login: set SMARTLIB_DASHBOARD_PASSWORD"):
        login_for("0.0.0.0", env={})
    login = login_for("0.0.0.0", env={"SMARTLIB_DASHBOARD_PASSWORD": "pw1"})
    assert login is not None and "pw1" not in login.password_hash and login.check("smartlib", "pw1")
    assert not login.check("smartlib", "pw2")
    f = tmp_path / "pw"
    f.write_text("from-file\n", encoding="utf-8")
    login = login_for("10.0.0.5", password_file=f, env={"SMARTLIB_DASHBOARD_USER": "ops"})
    assert login is not None and login.check("ops", "from-file")
    (tmp_path / "empty").write_text("", encoding="utf-8")
    with pytest.raises(AuthError, match="is empty"):
        login_for("10.0.0.5", password_file=tmp_path / "empty", env={})
    with pytest.raises(AuthError, match="cannot read"):
        login_for("10.0.0.5", password_file=tmp_path / "missing", env={})
