// Which network addresses a webhook may target: by default none on loopback,
// private, link-local, CGNAT, multicast or unspecified ranges (so a user cannot
// make the server call into its own network), unless --push-allow-private-urls.
#pragma once

#include <sys/socket.h>

#include <string_view>

#include "common/status.h"

namespace parley::push {

// True for addresses a webhook must not reach by default (IPv4 and IPv6,
// IPv4-mapped IPv6 judged as IPv4).
bool IsPrivateAddress(const sockaddr* address);

// An http(s) URL with a host and no credentials, at most `max_len` bytes,
// whose host resolves only to public addresses unless `allow_private`.
// Blocking (DNS).
Status CheckWebhookUrl(std::string_view url, bool allow_private, size_t max_len);

}  // namespace parley::push
