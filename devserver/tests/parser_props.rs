//! Property tests: the query and Realtime filter parsers never panic on arbitrary input.

use devserver::realtime::binding::parse_binding;
use devserver::realtime::protocol::decode;
use devserver::rest::query::{parse_filter, parse_list, parse_order, parse_read, parse_select};
use devserver::schema::{DISTRIBUTIONS, REDEMPTION_REQUESTS};
use proptest::prelude::*;

fn filterish() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "(not\\.)?(eq|neq|gt|gte|lt|lte|in|is|like)\\.[ -~]{0,20}",
        "in\\.\\([\"a-z,()\\\\]{0,20}\\)?",
    ]
}

proptest! {
    #[test]
    fn filter_parser_never_panics(column in "[a-z_.]{0,20}", value in filterish()) {
        let _ = parse_filter(&REDEMPTION_REQUESTS, &column, &value);
        let _ = parse_filter(&REDEMPTION_REQUESTS, "token_amount", &value);
        let _ = parse_filter(&DISTRIBUTIONS, "created_at", &value);
        let _ = parse_list(&value);
    }

    #[test]
    fn select_and_order_parsers_never_panic(text in "[ -~]{0,40}") {
        let _ = parse_select(&REDEMPTION_REQUESTS, &text);
        let _ = parse_order(&REDEMPTION_REQUESTS, &text);
    }

    #[test]
    fn whole_queries_never_panic(pairs in proptest::collection::vec(("[a-z_]{0,12}", filterish()), 0..6)) {
        let _ = parse_read(&REDEMPTION_REQUESTS, &pairs);
    }

    #[test]
    fn realtime_inputs_never_panic(text in any::<String>(), filter in "[ -~]{0,30}") {
        let _ = decode(&text);
        let binding = serde_json::json!({"event": "*", "schema": "public", "table": "redemption_requests", "filter": filter});
        let _ = parse_binding(&binding);
    }
}
