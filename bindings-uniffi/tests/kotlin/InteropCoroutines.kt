// The coroutine API against the real servers of tests/interop (oidc-provider, Authlib,
// oauth2-mock-server), over UrlConnectionTransport (the Android default): every grant as a
// suspend call, discovery, the device flow's wait (suspending and blocking), AsyncTokenSession
// under many coroutines and after a real 401.
package grantline.test

import grantline.*
import java.util.concurrent.atomic.AtomicInteger
import kotlinx.coroutines.Dispatchers
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.coroutineScope
import kotlinx.coroutines.runBlocking

private val urlConnection = UrlConnectionTransport()

private suspend fun <T> many(n: Int, body: suspend () -> T): List<T> = coroutineScope {
    (1..n).map { async(Dispatchers.Default) { body() } }.awaitAll()
}

fun coroutineInterop(t: Tests) {
    fun confidentialAsync(p: Provider, transport: HttpTransport = urlConnection, method: ClientAuthMethod? = null) =
        Client(p, "test-client", "test-secret", CALLBACK, method, transport)

    t.check("interop (coroutines, UrlConnectionTransport): discoverAsync and clientCredentialsAsync on every server") {
        runBlocking {
            val oidc = discoverAsync(oidcUrl, urlConnection)
            assertEq(oidcUrl, oidc.issuer())
            for (m in listOf(ClientAuthMethod.BASIC, ClientAuthMethod.BODY)) {
                val tokens = confidentialAsync(oidc, method = m).clientCredentialsAsync(listOf("api:read"))
                assertEq(listOf("api:read"), tokens.scopes())
            }
            val authlib = discoverAsync("$authlibUrl/.well-known/oauth-authorization-server", urlConnection)
            val tokens = confidentialAsync(authlib).clientCredentialsAsync(listOf("read"))
            val me = urlConnection.sendAsync(HttpRequest("GET", "$authlibUrl/api/me", listOf(authorizationHeader(tokens.accessToken())), ByteArray(0)))
            assertEq(200, me.status)
            assertContains(String(me.body), "test-client")
            val mock = discoverAsync(mockUrl, urlConnection).toBuilder().authMethod(ClientAuthMethod.BASIC).build()
            assertEq(ExpirySource.EXPIRES_IN, confidentialAsync(mock).clientCredentialsAsync(listOf("api")).expirySource())
        }
    }
    t.check("interop (coroutines): authorization code + PKCE, refresh with rotation, introspection, revocation (oidc-provider)") {
        runBlocking {
            val client = confidentialAsync(discover(oidcUrl, urlConnection))
            val (_, grant) = authorize(client, oidcRequest())
            val tokens = client.exchangeCodeAsync(grant)
            assertTrue(tokens.refreshToken() != null && tokens.idToken() != null)
            val renewed = client.refreshAsync(tokens)
            assertTrue(renewed.refreshTokenRotated)
            assertTrue(renewed.tokens.refreshToken() != tokens.refreshToken())
            val access = renewed.tokens.accessToken()
            assertTrue(client.introspectAsync(access, TokenTypeHint.ACCESS_TOKEN).active) { "the renewed token is active" }
            client.revokeAsync(access, TokenTypeHint.ACCESS_TOKEN)
            assertTrue(!client.introspectAsync(access).active) { "the revoked token is inactive" }
            // The old refresh token is dead; a code is single use. (oidc-provider revokes the whole
            // grant on either replay: hence last.)
            assertOAuth("invalid_grant", 400) { runBlocking { client.refreshAsync(tokens) } }
            assertOAuth("invalid_grant", 400) { runBlocking { client.exchangeCodeAsync(grant) } }
        }
    }
    t.check("interop (coroutines): passwordAsync, and a wrong password is a typed OAuth error (Authlib)") {
        runBlocking {
            val client = confidentialAsync(authlib())
            val tokens = client.passwordAsync("alice", "wonderland", listOf("read"))
            assertTrue(tokens.refreshToken() != null)
            assertOAuth("invalid_request", 400) { runBlocking { client.passwordAsync("alice", "looking-glass", listOf("read")) } }
        }
    }
    t.check("interop: the device flow's wait, suspending and blocking (oidc-provider, approved by a scripted user)") {
        val client = confidentialAsync(discover(oidcUrl, urlConnection))
        runBlocking {
            val device = client.deviceAuthorizationAsync(listOf("openid", "offline_access"))
            assertTrue(device.verificationUri().endsWith("/device") && device.verificationUriComplete() != null)
            assertTrue(client.pollDeviceTokenAsync(device, device.interval()) is DevicePoll.Pending)
            Browser().approveDevice(device)
            val tokens = client.waitForDeviceAsync(device)
            assertTrue(tokens.refreshToken() != null && tokens.idToken() != null)
            // The device code is spent.
            assertOAuth("invalid_grant", 400) { runBlocking { client.pollDeviceTokenAsync(device, device.interval()) } }
            assertTrue(!device.toString().contains(device.deviceCode()))
        }
        val device = client.deviceAuthorization(listOf("openid"))
        Browser().approveDevice(device)
        val tokens = client.waitForDevice(device)
        assertTrue(tokens.idToken() != null)
    }
    t.check("interop (coroutines): AsyncTokenSession, 300 coroutines one token request, 300 rejections one renewal, a real 401 (Authlib)") {
        val counting = CountingTransport(urlConnection, delayMillis = 100)
        val listener = RecordingListener()
        val client = confidentialAsync(authlib(), counting)
        val session = AsyncTokenSession.clientCredentials(client, listOf("read"), listener)
        runBlocking {
            val first = many(300) { session.accessToken() }.toSet()
            assertEq(1, first.size, "every coroutine got the same token")
            assertEq(1, counting.tokenRequests.get(), "token requests")
            val token = first.single()
            val second = many(300) { session.reject(token); session.accessToken() }.toSet()
            assertEq(1, second.size)
            assertTrue(second.single() != token)
            assertEq(2, counting.tokenRequests.get(), "token requests after 300 rejections")
            assertEq(2, listener.renewals.size)
            // Revoked behind the session's back: the API's 401 renews once and retries once.
            client.revokeAsync(second.single(), TokenTypeHint.ACCESS_TOKEN)
            val before = counting.all.get()
            val me = session.send(HttpRequest("GET", "$authlibUrl/api/me", listOf(), ByteArray(0)))
            assertEq(200, me.status)
            assertEq(3, counting.tokenRequests.get(), "one renewal")
            assertEq(before + 3, counting.all.get(), "401, renewal, retry")
        }
    }
    t.check("interop (coroutines): AsyncTokenSession over a refresh token rotates and tells the listener (oidc-provider)") {
        val client = confidentialAsync(discover(oidcUrl, urlConnection))
        val (_, grant) = authorize(client, oidcRequest())
        val first = client.exchangeCode(grant)
        val listener = RecordingListener()
        val session = AsyncTokenSession.fromTokens(client, first, listener)
        val rotatedEvents = AtomicInteger()
        runBlocking {
            assertEq(first.accessToken(), session.accessToken())
            assertTrue(session.reject(first.accessToken()))
            val tokens = many(50) { session.accessToken() }.toSet()
            assertEq(1, tokens.size)
            assertEq(1, listener.renewals.size)
            if (listener.renewals[0].refreshTokenRotated) rotatedEvents.incrementAndGet()
            assertEq(listener.renewals[0].tokens.refreshToken(), session.tokens()?.refreshToken())
        }
        assertEq(1, rotatedEvents.get(), "oidc-provider rotates refresh tokens")
        // The old refresh token is dead (rotation), through the blocking call.
        assertOAuth("invalid_grant", 400) { client.refresh(first) }
    }
}
