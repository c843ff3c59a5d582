// grantline from Kotlin on the JVM: client credentials, then a TokenSession that keeps the
// token fresh and calls an API with it, all over the JDK's HTTP client (JdkHttpTransport).
//
//   GRANTLINE_TOKEN_URL=https://as.example/oauth/token \
//   GRANTLINE_CLIENT_ID=... GRANTLINE_CLIENT_SECRET=... [GRANTLINE_SCOPE="read"] \
//   [GRANTLINE_API_URL=https://api.example/me] \
//   java -Djna.library.path=target/debug -cp <classes>:jna.jar:kotlin-stdlib.jar MainKt
//
// bindings-uniffi/test.sh runs it against the local Authlib server.
import grantline.ClientAuthMethod
import grantline.Client
import grantline.GrantType
import grantline.GrantlineException
import grantline.HttpRequest
import grantline.JdkHttpTransport
import grantline.ProviderBuilder
import grantline.Renewed
import grantline.TokenListener
import grantline.TokenSession
import kotlin.system.exitProcess

private fun env(name: String, default: String? = null): String =
    System.getenv(name)?.takeIf { it.isNotEmpty() } ?: default ?: run {
        System.err.println("set $name")
        exitProcess(2)
    }

fun main() {
    val provider = ProviderBuilder("example")
        .tokenEndpoint(env("GRANTLINE_TOKEN_URL"))
        .grant(GrantType.CLIENT_CREDENTIALS)
        .build()
    val client = Client(
        provider,
        clientId = env("GRANTLINE_CLIENT_ID", "test-client"),
        clientSecret = env("GRANTLINE_CLIENT_SECRET", "test-secret"),
        authMethod = ClientAuthMethod.BASIC,
        transport = JdkHttpTransport(),
    )
    val scopes = env("GRANTLINE_SCOPE", "read").split(' ').filter { it.isNotEmpty() }

    try {
        // One call per grant: the token set prints without its tokens.
        val tokens = client.clientCredentials(scopes)
        println("client credentials: expires in ${tokens.lifetime()} s, scopes ${tokens.scopes()}")
        println("printed, it stays secret: $tokens")

        // A session: one renewal in flight however many threads ask; every new token set is
        // handed to the listener (persist it there).
        val session = TokenSession.clientCredentials(client, scopes, object : TokenListener {
            override fun onTokens(renewed: Renewed) {
                println("session: new token set, refresh token rotated: ${renewed.refreshTokenRotated}")
            }
        })
        val token = session.accessToken()
        println("session: access token of ${token.length} characters")

        System.getenv("GRANTLINE_API_URL")?.takeIf { it.isNotEmpty() }?.let { api ->
            // Bearer attached; a 401 invalid_token renews once and retries once.
            val response = session.send(HttpRequest("GET", api, listOf(), ByteArray(0)))
            println("GET $api: HTTP ${response.status}")
            if (response.status.toInt() != 200) exitProcess(1)
        }
    } catch (e: GrantlineException.OAuth) {
        System.err.println("the server refused: ${e.code} ${e.description ?: ""} (HTTP ${e.status})")
        exitProcess(1)
    } catch (e: GrantlineException) {
        System.err.println("failed: ${e.javaClass.simpleName}: ${e.message}")
        exitProcess(1)
    }
}
