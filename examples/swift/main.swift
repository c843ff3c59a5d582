// grantline from Swift, with Swift concurrency: client credentials, then an AsyncTokenSession that
// keeps the token fresh for many tasks and calls an API with it, over URLSession
// (URLSessionTransport.sendAsync: no semaphore, no blocked thread). Build it as an executable target
// that depends on the Grantline package (bindings-uniffi/swift), then:
//
//   GRANTLINE_TOKEN_URL=https://as.example/oauth/token GRANTLINE_CLIENT_ID=... \
//   GRANTLINE_CLIENT_SECRET=... [GRANTLINE_SCOPE="read"] [GRANTLINE_API_URL=https://api.example/me] \
//   swift run grantline-example
//
// Not compiled on the project's machines (no Swift toolchain there): see bindings-uniffi/README.md.
import Foundation
import Grantline

func env(_ name: String, _ fallback: String? = nil) -> String {
    if let value = ProcessInfo.processInfo.environment[name], !value.isEmpty { return value }
    if let fallback = fallback { return fallback }
    FileHandle.standardError.write(Data("set \(name)\n".utf8))
    exit(2)
}

final class PrintingListener: TokenListener, @unchecked Sendable {
    func onTokens(renewed: Renewed) throws {
        // Persist renewed.tokens.toJson() in the Keychain here: a rotated refresh token is only
        // valid in the new set.
        print("session: new token set, refresh token rotated: \(renewed.refreshTokenRotated)")
    }
}

do {
    let provider = try ProviderBuilder(name: "example")
        .tokenEndpoint(url: env("GRANTLINE_TOKEN_URL"))
        .grant(grant: .clientCredentials)
        .build()
    let client = Client(
        provider: provider,
        clientId: env("GRANTLINE_CLIENT_ID", "test-client"),
        clientSecret: env("GRANTLINE_CLIENT_SECRET", "test-secret"),
        authMethod: .basic,
        transport: URLSessionTransport()
    )
    let scopes = env("GRANTLINE_SCOPE", "read").split(separator: " ").map(String.init)

    let tokens = try await client.clientCredentialsAsync(scopes: scopes)
    print("client credentials: expires in \(tokens.lifetime().map(String.init) ?? "?") s, scopes \(tokens.scopes() ?? [])")
    print("printed, it stays secret: \(tokens)")

    // One token request however many tasks ask.
    let session = try AsyncTokenSession.clientCredentials(client: client, scopes: scopes, listener: PrintingListener())
    let lengths = try await withThrowingTaskGroup(of: Int.self) { group -> [Int] in
        for _ in 0..<10 { group.addTask { try await session.accessToken().count } }
        var all: [Int] = []
        for try await n in group { all.append(n) }
        return all
    }
    print("session: 10 tasks, access tokens of \(Set(lengths)) characters")

    if let api = ProcessInfo.processInfo.environment["GRANTLINE_API_URL"], !api.isEmpty {
        // Bearer attached; a 401 invalid_token renews once and retries once.
        let response = try await session.send(request: try HttpRequest(method: "GET", url: api, headers: [], body: Data()))
        print("GET \(api): HTTP \(response.status)")
        if response.status != 200 { exit(1) }
    }
} catch let GrantlineError.OAuth(code, description, _, status) {
    FileHandle.standardError.write(Data("the server refused: \(code) \(description ?? "") (HTTP \(status))\n".utf8))
    exit(1)
} catch {
    FileHandle.standardError.write(Data("failed: \(error)\n".utf8))
    exit(1)
}
