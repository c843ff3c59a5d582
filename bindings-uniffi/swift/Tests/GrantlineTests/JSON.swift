// A small, strict JSON reader and writer for the tests: integers stay exact (2^64-1 included),
// object member order is kept for writing and ignored for comparing.
import Foundation

indirect enum J: Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(String)
    case double(Double)
    case string(String)
    case array([J])
    case object([String: J], [String])

    static func == (a: J, b: J) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case let (.bool(x), .bool(y)): return x == y
        case let (.int(x), .int(y)): return x == y
        case let (.double(x), .double(y)): return x == y
        case let (.string(x), .string(y)): return x == y
        case let (.array(x), .array(y)): return x == y
        case let (.object(x, _), .object(y, _)): return x == y
        default: return false
        }
    }

    static func obj(_ pairs: [(String, J)]) -> J {
        var members: [String: J] = [:]
        for (k, v) in pairs { members[k] = v }
        return .object(members, pairs.map { $0.0 })
    }
    static func str(_ s: String?) -> J { s.map { .string($0) } ?? .null }
    static func u(_ v: Int64?) -> J { v.map { .int(String($0)) } ?? .null }
    static func i32(_ v: Int32) -> J { .int(String(v)) }
    static func strings(_ l: [String]?) -> J { l.map { .array($0.map { .string($0) }) } ?? .null }

    var description: String { JSONText.write(self) }

    subscript(key: String) -> J? {
        if case let .object(m, _) = self { return m[key] }
        return nil
    }
}

struct JSONError: Error { let message: String }

enum JSONText {
    static func parse(_ text: String) throws -> J {
        var p = Parser(bytes: Array(text.utf8))
        p.ws()
        let v = try p.value()
        p.ws()
        if p.i != p.bytes.count { throw JSONError(message: "trailing characters at \(p.i)") }
        return v
    }

    static func write(_ v: J) -> String {
        switch v {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .int(s): return s
        case let .double(d): return String(d)
        case let .string(s): return quote(s)
        case let .array(l): return "[" + l.map(write).joined(separator: ",") + "]"
        case let .object(m, order):
            return "{" + order.map { quote($0) + ":" + write(m[$0] ?? .null) }.joined(separator: ",") + "}"
        }
    }

    static func quote(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    struct Parser {
        let bytes: [UInt8]
        var i = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        func fail(_ m: String) -> JSONError { JSONError(message: "JSON: \(m) at offset \(i)") }

        mutating func ws() {
            while i < bytes.count, [0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 }
        }

        mutating func value() throws -> J {
            guard i < bytes.count else { throw fail("unexpected end") }
            switch bytes[i] {
            case UInt8(ascii: "{"): return try object()
            case UInt8(ascii: "["): return try array()
            case UInt8(ascii: "\""): return .string(try string())
            case UInt8(ascii: "t"): try literal("true"); return .bool(true)
            case UInt8(ascii: "f"): try literal("false"); return .bool(false)
            case UInt8(ascii: "n"): try literal("null"); return .null
            default: return try number()
            }
        }

        mutating func literal(_ word: String) throws {
            let w = Array(word.utf8)
            guard i + w.count <= bytes.count, Array(bytes[i..<i + w.count]) == w else { throw fail("expected \(word)") }
            i += w.count
        }

        mutating func object() throws -> J {
            var members: [String: J] = [:]
            var order: [String] = []
            i += 1
            ws()
            if i < bytes.count, bytes[i] == UInt8(ascii: "}") { i += 1; return .object(members, order) }
            while true {
                ws()
                guard i < bytes.count, bytes[i] == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                let k = try string()
                ws()
                guard i < bytes.count, bytes[i] == UInt8(ascii: ":") else { throw fail("expected ':'") }
                i += 1
                ws()
                if members[k] != nil { throw fail("duplicate member \(k)") }
                members[k] = try value()
                order.append(k)
                ws()
                guard i < bytes.count else { throw fail("unexpected end in object") }
                let c = bytes[i]
                i += 1
                if c == UInt8(ascii: ",") { continue }
                if c == UInt8(ascii: "}") { return .object(members, order) }
                throw fail("expected ',' or '}'")
            }
        }

        mutating func array() throws -> J {
            var items: [J] = []
            i += 1
            ws()
            if i < bytes.count, bytes[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                ws()
                items.append(try value())
                ws()
                guard i < bytes.count else { throw fail("unexpected end in array") }
                let c = bytes[i]
                i += 1
                if c == UInt8(ascii: ",") { continue }
                if c == UInt8(ascii: "]") { return .array(items) }
                throw fail("expected ',' or ']'")
            }
        }

        mutating func hex4() throws -> UInt32 {
            guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<i + 4], as: UTF8.self), radix: 16) else {
                throw fail("bad \\u escape")
            }
            i += 4
            return v
        }

        mutating func string() throws -> String {
            var out: [UInt8] = []
            i += 1
            while true {
                guard i < bytes.count else { throw fail("unterminated string") }
                let c = bytes[i]
                i += 1
                if c == UInt8(ascii: "\"") { return String(decoding: out, as: UTF8.self) }
                if c < 0x20 { throw fail("control character in string") }
                if c != UInt8(ascii: "\\") { out.append(c); continue }
                guard i < bytes.count else { throw fail("unterminated escape") }
                let e = bytes[i]
                i += 1
                switch e {
                case UInt8(ascii: "\""): out.append(0x22)
                case UInt8(ascii: "\\"): out.append(0x5C)
                case UInt8(ascii: "/"): out.append(0x2F)
                case UInt8(ascii: "b"): out.append(0x08)
                case UInt8(ascii: "f"): out.append(0x0C)
                case UInt8(ascii: "n"): out.append(0x0A)
                case UInt8(ascii: "r"): out.append(0x0D)
                case UInt8(ascii: "t"): out.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try hex4()
                    if (0xD800..<0xDC00).contains(scalar), i + 6 <= bytes.count,
                       bytes[i] == UInt8(ascii: "\\"), bytes[i + 1] == UInt8(ascii: "u") {
                        i += 2
                        let low = try hex4()
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                    }
                    out.append(contentsOf: Array(String(Unicode.Scalar(scalar).map(Character.init) ?? "\u{FFFD}").utf8))
                default: throw fail("bad escape")
                }
            }
        }

        mutating func number() throws -> J {
            let start = i
            if i < bytes.count, bytes[i] == UInt8(ascii: "-") { i += 1 }
            var integer = true
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
            if i < bytes.count, bytes[i] == UInt8(ascii: ".") {
                integer = false
                i += 1
                while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
            }
            if i < bytes.count, bytes[i] == UInt8(ascii: "e") || bytes[i] == UInt8(ascii: "E") {
                integer = false
                i += 1
                if i < bytes.count, bytes[i] == UInt8(ascii: "+") || bytes[i] == UInt8(ascii: "-") { i += 1 }
                while i < bytes.count, (0x30...0x39).contains(bytes[i]) { i += 1 }
            }
            let text = String(decoding: bytes[start..<i], as: UTF8.self)
            if text.isEmpty || text == "-" { throw fail("unexpected character") }
            if integer { return .int(text) }
            guard let d = Double(text) else { throw fail("bad number") }
            return .double(d)
        }
    }
}
