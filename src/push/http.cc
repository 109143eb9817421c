#include "push/http.h"

#include <curl/curl.h>
#include <sys/socket.h>

#include <memory>

#include "push/address_policy.h"

namespace parley::push {
namespace {

struct CurlDeleter {
  void operator()(CURL* handle) const { curl_easy_cleanup(handle); }
};
using CurlHandle = std::unique_ptr<CURL, CurlDeleter>;

// One handle per thread and address policy: connections are reused by the
// thread's next request to the same host, and a connection opened without
// the policy is never reused by a request that needs it.
CURL* ThreadHandle(bool public_only) {
  thread_local CurlHandle handles[2];
  CurlHandle& handle = handles[public_only ? 1 : 0];
  if (!handle) handle.reset(curl_easy_init());
  if (handle) curl_easy_reset(handle.get());  // keeps the connection cache
  return handle.get();
}

size_t AppendBody(char* data, size_t size, size_t count, void* out) {
  static_cast<std::string*>(out)->append(data, size * count);
  return size * count;
}

int AbortWhenCancelled(void* cancel, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  return static_cast<const std::atomic<bool>*>(cancel)->load() ? 1 : 0;
}

// Checked on every address curl connects to, so a name that resolves to a
// private address after registration (DNS rebinding) is refused too.
curl_socket_t OpenPublicSocket(void*, curlsocktype, curl_sockaddr* address) {
  if (IsPrivateAddress(&address->addr)) return CURL_SOCKET_BAD;
  return socket(address->family, address->socktype, address->protocol);
}

struct HeaderList {
  curl_slist* list = nullptr;
  ~HeaderList() { curl_slist_free_all(list); }
};

}  // namespace

HttpSender::HttpSender(int64_t timeout_ms, std::string ca_file, const std::atomic<bool>& cancel)
    : timeout_ms_(timeout_ms), ca_file_(std::move(ca_file)), cancel_(cancel) {
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)init;
}

HttpReply HttpSender::Post(const HttpPost& request) const {
  HttpReply reply;
  CURL* curl = ThreadHandle(request.public_only);
  if (curl == nullptr) {
    reply.error = "curl_easy_init failed";
    return reply;
  }
  HeaderList headers;
  for (const std::string& h : request.headers)
    headers.list = curl_slist_append(headers.list, h.c_str());
  headers.list = curl_slist_append(headers.list, "Expect:");  // no 100-continue round trip
  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_POST, 1L);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, request.body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(request.body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.list);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout_ms_));
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(timeout_ms_));
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, AppendBody);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply.body);
  curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, AbortWhenCancelled);
  curl_easy_setopt(curl, CURLOPT_XFERINFODATA, &cancel_);
  if (!ca_file_.empty()) curl_easy_setopt(curl, CURLOPT_CAINFO, ca_file_.c_str());
  if (request.http2) curl_easy_setopt(curl, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
  if (request.public_only) curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, OpenPublicSocket);

  CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    reply.error = curl_easy_strerror(rc);
    return reply;
  }
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply.status);
  curl_off_t retry_after_s = 0;
  if (curl_easy_getinfo(curl, CURLINFO_RETRY_AFTER, &retry_after_s) == CURLE_OK) {
    reply.retry_after_ms = static_cast<int64_t>(retry_after_s) * 1000;
  }
  if (request.http2) {
    long version = 0;
    curl_easy_getinfo(curl, CURLINFO_HTTP_VERSION, &version);
    if (version != CURL_HTTP_VERSION_2_0) {
      reply.error = "the server did not speak HTTP/2";
      reply.status = 0;
    }
  }
  return reply;
}

}  // namespace parley::push
