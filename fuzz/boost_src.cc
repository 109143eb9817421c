// Boost.JSON and Boost.URL compiled from source into the fuzz targets, so the sanitizers and
// libFuzzer's coverage see inside the parsers the server relies on.
#include <boost/json/src.hpp>
#include <boost/url/src.hpp>
