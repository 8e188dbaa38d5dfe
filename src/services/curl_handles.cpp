#include "services/curl_handles.hpp"

namespace jobgraph::services {

void ensure_curl_initialised() {
    // A function-local static: initialised once even when several workers start requests at once.
    static const CURLcode initialised = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (initialised != CURLE_OK) {
        throw std::runtime_error(std::string("curl_global_init failed: ") + curl_easy_strerror(initialised));
    }
}

}  // namespace jobgraph::services
