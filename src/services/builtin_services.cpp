#include <jobgraph/services.hpp>

#include "services/builtin_parts.hpp"

namespace jobgraph::services {

void register_builtin(HandlerRegistry& registry) {
    register_core_services(registry);
    register_shell_service(registry);
#ifdef JOBGRAPH_WITH_CURL
    register_http_service(registry);
    register_llm_service(registry);
#endif
}

}  // namespace jobgraph::services
