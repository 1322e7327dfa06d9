import NIOSSL
import ShunterAuth
import ShunterHandlers

/// Who may use the HTTP server and how they reach it: the authenticator every request goes
/// through, the audit log of authenticated writes, and TLS.
package struct HTTPAccess: Sendable {
    package var authenticator: RequestAuthenticator
    package var audit: AuditLog?
    /// HTTPS with this configuration; nil speaks plain HTTP.
    package var tls: TLSConfiguration?

    package init(authenticator: RequestAuthenticator, audit: AuditLog?, tls: TLSConfiguration? = nil) {
        self.authenticator = authenticator
        self.audit = audit
        self.tls = tls
    }

    /// The server side of `tls:`, its files read and checked now: an error names the file and
    /// what is wrong with it.
    package static func loadTLS(_ config: TLSConfig) throws -> TLSConfiguration {
        let certificates: [NIOSSLCertificate]
        do {
            certificates = try NIOSSLCertificate.fromPEMFile(config.certificate)
        } catch {
            throw TLSLoadError("tls.certificate \(config.certificate): not a readable PEM certificate (\(error))")
        }
        guard !certificates.isEmpty else {
            throw TLSLoadError("tls.certificate \(config.certificate): no certificate in the file")
        }
        let key: NIOSSLPrivateKey
        do {
            key = try NIOSSLPrivateKey(file: config.key, format: .pem)
        } catch {
            throw TLSLoadError("tls.key \(config.key): not a readable PEM private key (\(error))")
        }
        let configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(key))
        do {
            _ = try NIOSSLContext(configuration: configuration)
        } catch {
            throw TLSLoadError(
                "tls: the certificate \(config.certificate) and key \(config.key) do not make a TLS context (\(error)): do they belong together?"
            )
        }
        return configuration
    }

    /// Everyone is the anonymous admin, nothing is audited: a loopback broker without tokens.
    package static let open = HTTPAccess(authenticator: RequestAuthenticator(mode: .open, registry: nil), audit: nil)
}

package struct TLSLoadError: Error, CustomStringConvertible {
    package let description: String
    init(_ description: String) { self.description = description }
}
