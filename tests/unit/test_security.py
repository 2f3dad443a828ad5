import pytest

from app.security import Signer, TokenError, hash_password, same_secret, verify_password


def test_visitor_token_round_trip_and_binding_to_site():
    signer = Signer("k1")
    token = signer.visitor_token("v_abc", 1)
    assert signer.read_visitor_token(token, 1, max_age=60) == "v_abc"
    with pytest.raises(TokenError) as other_site:
        signer.read_visitor_token(token, 2, max_age=60)
    assert other_site.value.code == "invalid_token"


@pytest.mark.parametrize("token", ["", "x" * 2000, "garbage", None, 12])
def test_malformed_tokens_are_invalid(token):
    with pytest.raises(TokenError) as err:
        Signer("k").read_visitor_token(token, 1, max_age=60)
    assert err.value.code == "invalid_token"


def test_token_from_another_secret_or_tampered_is_invalid():
    token = Signer("k1").visitor_token("v_abc", 1)
    with pytest.raises(TokenError):
        Signer("k2").read_visitor_token(token, 1, max_age=60)
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    with pytest.raises(TokenError):
        Signer("k1").read_visitor_token(tampered, 1, max_age=60)


def test_expired_token_says_so():
    token = Signer("k").socket_token(7, 3)
    with pytest.raises(TokenError) as err:
        Signer("k").read_socket_token(token, max_age=-1)
    assert err.value.code == "token_expired"
    assert Signer("k").read_socket_token(token, max_age=60) == (7, 3)


def test_socket_and_visitor_tokens_are_not_interchangeable():
    signer = Signer("k")
    with pytest.raises(TokenError):
        signer.read_socket_token(signer.visitor_token("v_1", 1), max_age=60)


def test_passwords_are_argon2_and_verify():
    hashed = hash_password("s3cret-pass")
    assert hashed.startswith("$argon2")
    assert verify_password(hashed, "s3cret-pass")
    assert not verify_password(hashed, "wrong")
    assert not verify_password("not-a-hash", "s3cret-pass")


def test_same_secret():
    assert same_secret("abc", "abc")
    assert not same_secret("abc", "abd")
    assert not same_secret(None, "abc")
    assert not same_secret("", "")
