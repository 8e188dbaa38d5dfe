#pragma once
/// @file jobgraph.hpp
/// @brief The one header a user includes.

#include "jobgraph/context.hpp"
#include "jobgraph/dot.hpp"
#include "jobgraph/errors.hpp"
#include "jobgraph/observer.hpp"
#include "jobgraph/orchestrator.hpp"
#include "jobgraph/registry.hpp"
#include "jobgraph/result.hpp"
#include "jobgraph/run_control.hpp"
#include "jobgraph/spec.hpp"
#include "jobgraph/status.hpp"
#include "jobgraph/store.hpp"
#include "jobgraph/task_record.hpp"
#include "jobgraph/time.hpp"
#include "jobgraph/validation.hpp"
#include "jobgraph/version.hpp"
