"""The Content-Security-Policy is sent and enforced: every browser test fails on a violation
(tests/browser/conftest.py); this one shows that a violation is seen at all."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_the_policy_is_sent_and_a_foreign_image_is_refused(_chromium, live_server):
    context = _chromium.new_context(base_url=live_server.url)
    try:
        page = context.new_page()
        response = page.goto("/admin/login/")
        policy = response.headers["content-security-policy"]
        assert "default-src 'self'" in policy and "script-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        with page.expect_console_message(lambda m: "Content Security Policy" in m.text):
            page.evaluate(
                "() => { const s = document.createElement('script');"
                " s.textContent = 'window.ran = 1'; document.body.append(s); }"
            )
        assert page.evaluate("() => window.ran") is None  # the inline script did not run
    finally:
        context.close()
