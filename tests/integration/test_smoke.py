from tests.support import KYIV, bearer


async def test_oblasts_listed(client, make_token):
    response = await client.get(
        "/api/v1/territories",
        params={"category": "O", "limit": 200},
        headers=bearer(make_token("ministry_admin")),
    )
    assert response.status_code == 200
    body = response.json()
    assert len(body["items"]) == 25
    assert body["next_cursor"] is None


async def test_kyiv(client, make_token):
    response = await client.get(
        f"/api/v1/territories/{KYIV}", headers=bearer(make_token("ministry_admin"))
    )
    assert response.json()["name"] == "Київ"
