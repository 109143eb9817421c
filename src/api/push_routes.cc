// HTTP routes of push notifications: the device registry. (The `muted`
// conversation setting is in conversation_settings.cc.)
#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "api/api_service.h"
#include "protocol/json_util.h"

namespace parley::api {
namespace json = boost::json;

void ApiService::PostDevice(HttpCall call) {
  chat_.RunBlocking([this, call = std::move(call)] {  // may resolve a webhook host (DNS)
    auto device = push_.RegisterDevice(call.user_id, call.request.body);
    if (!device.ok()) return call.respond(ErrorResponse(device.status()));
    call.respond(JsonResponse(201, push::DeviceJson(*device)));
  });
}

void ApiService::GetDevices(HttpCall call) {
  chat_.RunBlocking([this, call = std::move(call)] {
    auto devices = push_.ListDevices(call.user_id);
    if (!devices.ok()) return call.respond(ErrorResponse(devices.status()));
    json::array out;
    for (const auto& d : *devices) out.push_back(json::parse(push::DeviceJson(d)));
    call.respond(JsonResponse(200, json::serialize(json::object{{"devices", std::move(out)}})));
  });
}

void ApiService::DeleteDevice(HttpCall call) {
  chat_.RunBlocking([this, call = std::move(call)] {
    Status s = push_.DeleteDevice(call.user_id, call.params.at("id"));
    if (s.code() == Code::kNotFound) s = NotFound("no such device");  // another user's: the same
    call.respond(s.ok() ? gateway::HttpResponse{204, "application/json", "", {}}
                        : ErrorResponse(s));
  });
}

}  // namespace parley::api
