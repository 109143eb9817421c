#include "testing/http_client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <cctype>

#include "testing/tls_client.h"

namespace parley::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace json = boost::json;
using tcp = asio::ip::tcp;

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

}  // namespace

json::value HttpResponse::json() const {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  return ec ? json::value() : v;
}

json::object HttpResponse::object() const {
  json::value v = json();
  return v.is_object() ? v.as_object() : json::object();
}

std::string HttpResponse::Header(std::string_view name) const {
  auto it = headers.find(Lower(name));
  return it == headers.end() ? "" : it->second;
}

std::string HttpResponse::ErrorCode() const {
  json::object o = object();
  auto* err = o.if_contains("error");
  if (!err || !err->is_object()) return "";
  auto* code = err->as_object().if_contains("code");
  return code && code->is_string() ? std::string(code->as_string()) : "";
}

bool HttpResponse::IsErrorShape() const {
  json::object o = object();
  auto* err = o.if_contains("error");
  if (!err || !err->is_object()) return false;
  auto* code = err->as_object().if_contains("code");
  auto* message = err->as_object().if_contains("message");
  return code && code->is_string() && message && message->is_string();
}

std::string HttpResponse::Describe() const {
  std::string out = "HTTP " + std::to_string(status);
  if (!error.empty()) out += " (transport: " + error + ")";
  out += " body=";
  out.append(body, 0, 600);
  if (body.size() > 600) out += "...";
  return out;
}

std::string UrlEncode(std::string_view s) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back('%');
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
    }
  }
  return out;
}

struct HttpClient::Impl {
  asio::io_context ioc;

  // Connects (and runs the TLS handshake with `tls`), then writes (via
  // `write`) and reads one response concurrently, so a server that answers
  // early (413) and closes is still heard.
  template <class WriteFn>
  HttpResponse Exchange(uint16_t port, std::chrono::milliseconds timeout,
                        const std::optional<TlsOptions>& tls, WriteFn write,
                        const std::function<void()>& on_sent) {
    HttpResponse out;
    std::unique_ptr<asio::ssl::context> tls_context;
    if (tls) tls_context = MakeClientTlsContext(*tls);
    Transport stream{tcp::socket(ioc)};
    beast::flat_buffer buffer;
    http::response_parser<http::string_body> parser;
    parser.body_limit(256u << 20);
    bool read_done = false;
    bool write_done = false;
    bool sent = false;
    boost::system::error_code read_ec, write_ec, connect_ec, tls_ec;

    auto exchange = [&] {
      write(stream, [&](boost::system::error_code ec2, std::size_t) {
        write_done = true;
        write_ec = ec2;
        if (!ec2) sent = true;
      });
      http::async_read(stream, buffer, parser,
                       [&](boost::system::error_code ec2, std::size_t) {
                         read_done = true;
                         read_ec = ec2;
                       });
    };
    tcp::endpoint ep(asio::ip::make_address("127.0.0.1"), port);
    stream.next_layer().async_connect(ep, [&](boost::system::error_code ec) {
      if (ec) {
        connect_ec = ec;
        read_done = write_done = true;
        return;
      }
      if (!tls_context) return exchange();
      AsyncClientHandshake(stream, *tls_context, [&](boost::system::error_code ec2) {
        if (!ec2) return exchange();
        tls_ec = ec2;
        read_done = write_done = true;
      });
    });

    ioc.restart();
    auto deadline = std::chrono::steady_clock::now() + timeout;
    bool hook_called = false;
    while (!read_done && std::chrono::steady_clock::now() < deadline) {
      if (ioc.run_one_until(deadline) == 0) break;
      if (sent && !hook_called) {
        hook_called = true;
        if (on_sent) on_sent();
      }
    }
    bool timed_out = !read_done;
    out.tls = DescribeTls(stream);
    boost::system::error_code ignored;
    stream.next_layer().socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream.next_layer().socket().close(ignored);
    ioc.restart();
    ioc.run();  // let the cancelled handlers finish; they reference locals

    if (connect_ec) {
      out.error = "connect: " + connect_ec.message();
      return out;
    }
    if (tls_ec) {
      out.error = "tls: " + tls_ec.message();
      return out;
    }
    if (timed_out) {
      out.error = "timeout";
      return out;
    }
    if (read_ec) {
      out.error = "read: " + read_ec.message() +
                  (write_ec ? " (write: " + write_ec.message() + ")" : "");
      return out;
    }
    auto& res = parser.get();
    out.status = static_cast<int>(res.result_int());
    for (auto const& field : res) {
      out.headers[Lower(std::string(field.name_string()))] = std::string(field.value());
    }
    out.body = res.body();
    return out;
  }
};

HttpClient::HttpClient(uint16_t port, std::chrono::milliseconds timeout)
    : impl_(std::make_unique<Impl>()), port_(port), timeout_(timeout) {}

HttpClient::~HttpClient() = default;

HttpResponse HttpClient::Request(std::string_view method, std::string_view target,
                                 std::string_view body, std::string_view token,
                                 const Headers& headers) {
  auto req = std::make_shared<http::request<http::string_body>>();
  http::verb verb = http::string_to_verb(method);
  if (verb == http::verb::unknown) {
    req->method_string(method);
  } else {
    req->method(verb);
  }
  req->target(target);
  req->version(11);
  req->set(http::field::host, "127.0.0.1:" + std::to_string(port_));
  req->set(http::field::user_agent, "parley-integration-test");
  bool has_content_type = false;
  for (auto const& [name, value] : headers) {
    if (Lower(name) == "content-type") has_content_type = true;
    req->set(name, value);
  }
  if (!token.empty()) req->set(http::field::authorization, "Bearer " + std::string(token));
  if (!body.empty() && !has_content_type) req->set(http::field::content_type, "application/json");
  req->body() = std::string(body);
  if (!body.empty() || verb == http::verb::post || verb == http::verb::put ||
      verb == http::verb::patch) {
    req->prepare_payload();
  }
  return impl_->Exchange(
      port_, timeout_, tls_,
      [req](Transport& s, auto handler) { http::async_write(s, *req, std::move(handler)); },
      on_request_sent);
}

HttpResponse HttpClient::Get(std::string_view target, std::string_view token) {
  return Request("GET", target, {}, token);
}

HttpResponse HttpClient::Post(std::string_view target, const json::value& body,
                              std::string_view token) {
  return Request("POST", target, json::serialize(body), token);
}

HttpResponse HttpClient::Delete(std::string_view target, std::string_view token) {
  return Request("DELETE", target, {}, token);
}

HttpResponse HttpClient::SendRaw(std::string_view bytes) {
  auto data = std::make_shared<std::string>(bytes);
  return impl_->Exchange(
      port_, timeout_, tls_,
      [data](Transport& s, auto handler) {
        asio::async_write(s, asio::buffer(*data), std::move(handler));
      },
      on_request_sent);
}

}  // namespace parley::testing
