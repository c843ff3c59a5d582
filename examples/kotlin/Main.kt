// grantline from Kotlin with coroutines: client credentials, then an AsyncTokenSession that keeps
// the token fresh for many coroutines and calls an API with it, over HttpURLConnection
// (UrlConnectionTransport: the Android default, and any JVM). Then the same session's blocking
// twin, TokenSession, as Java and plain threads use it.
//
//   GRANTLINE_TOKEN_URL=https://as.example/oauth/token \
//   GRANTLINE_CLIENT_ID=... GRANTLINE_CLIENT_SECRET=... [GRANTLINE_SCOPE="read"] \
//   [GRANTLINE_API_URL=https://api.example/me] \
//   java -Djna.library.path=target/debug -cp <classes>:jna.jar:kotlin-stdlib.jar:kotlinx-coroutines-core-jvm.jar MainKt
//
// bindings-uniffi/test.sh runs it against the local Authlib server.
import grantline.AsyncTokenSession
import grantline.Client
import grantline.ClientAuthMethod
import grantline.GrantType
import grantline.GrantlineException
import grantline.HttpRequest
import grantline.ProviderBuilder
import grantline.Renewed
import grantline.TokenListener
import grantline.TokenSession
import grantline.UrlConnectionTransport
import kotlinx.coroutines.async
import kotlinx.coroutines.awaitAll
import kotlinx.coroutines.runBlocking
import kotlinx.coroutines.withTimeout
import kotlin.system.exitProcess

private fun env(name: String, default: String? = null): String =
    System.getenv(name)?.takeIf { it.isNotEmpty() } ?: default ?: run {
        System.err.println("set $name")
        exitProcess(2)
    }

fun main() = runBlocking {
    val provider = ProviderBuilder("example")
        .tokenEndpoint(env("GRANTLINE_TOKEN_URL"))
        .grant(GrantType.CLIENT_CREDENTIALS)
        .build()
    val client = Client(
        provider,
        clientId = env("GRANTLINE_CLIENT_ID", "test-client"),
        clientSecret = env("GRANTLINE_CLIENT_SECRET", "test-secret"),
        authMethod = ClientAuthMethod.BASIC,
        transport = UrlConnectionTransport(),
    )
    val scopes = env("GRANTLINE_SCOPE", "read").split(' ').filter { it.isNotEmpty() }

    try {
        // One suspending call per grant: the token set prints without its tokens.
        val tokens = client.clientCredentialsAsync(scopes)
        println("client credentials: expires in ${tokens.lifetime()} s, scopes ${tokens.scopes()}")
        println("printed, it stays secret: $tokens")

        // A session: one renewal in flight however many coroutines ask; every new token set is
        // handed to the listener first (persist it there).
        val listener = object : TokenListener {
            override fun onTokens(renewed: Renewed) {
                println("session: new token set, refresh token rotated: ${renewed.refreshTokenRotated}")
            }
        }
        val session = AsyncTokenSession.clientCredentials(client, scopes, listener)
        val tokensSeen = (1..20).map { async { withTimeout(30_000) { session.accessToken() } } }.awaitAll()
        println("session: 20 coroutines, ${tokensSeen.toSet().size} token, ${tokensSeen.first().length} characters")

        System.getenv("GRANTLINE_API_URL")?.takeIf { it.isNotEmpty() }?.let { api ->
            // Bearer attached; a 401 invalid_token renews once and retries once.
            val response = session.send(HttpRequest("GET", api, listOf(), ByteArray(0)))
            println("GET $api: HTTP ${response.status}")
            if (response.status != 200) exitProcess(1)
        }

        // The blocking twin, for Java callers and plain threads.
        val blocking = TokenSession.clientCredentials(client, scopes)
        println("blocking session: access token of ${blocking.accessToken().length} characters")
    } catch (e: GrantlineException.OAuth) {
        System.err.println("the server refused: ${e.code} ${e.description ?: ""} (HTTP ${e.status})")
        exitProcess(1)
    } catch (e: GrantlineException) {
        System.err.println("failed: ${e.javaClass.simpleName}: ${e.message}")
        exitProcess(1)
    }
}
