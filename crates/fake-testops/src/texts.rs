//! The seed's words: test case titles, step texts, and failure messages and traces
//! that vary as real ones do.

pub(crate) const CASES: &[(&str, &str)] = &[
    ("checkout", "Checkout with saved card"),
    ("checkout", "Checkout as guest"),
    ("cart", "Add item to cart"),
    ("cart", "Remove item from cart"),
    ("login", "Login with valid credentials"),
    ("login", "Login with wrong password shows an error"),
    ("search", "Search by product name"),
    ("search", "Search with filters"),
    ("profile", "Update delivery address"),
    ("orders", "Order history lists recent orders"),
    ("payments", "Refund a captured payment"),
    ("payments", "3-D Secure challenge succeeds"),
    ("catalog", "Product page shows price and stock"),
];

pub(crate) const STEP_TEXT: &[&str] = &[
    "open the start page",
    "sign in as a customer",
    "add a product to the cart",
    "go to checkout",
    "fill in the delivery form",
    "confirm the order",
];

/// A realistic message and trace for a non-passed status. Messages repeat with
/// varying numbers and ids, as real ones do, so grouping by normalised message works.
pub(crate) fn failure(
    status: &str,
    n: usize,
    launch: i64,
    rng: &mut fastrand::Rng,
) -> (Option<String>, Option<String>) {
    let msg = match status {
        "failed" => match n % 4 {
            0 | 2 => format!("expected: <200> but was: <{}>", [500, 502, 503][rng.usize(0..3)]),
            1 => format!("AssertionError: expected 'Order #{} confirmed' to equal 'Order confirmed'", 48000 + rng.u32(0..999)),
            _ => "Element <button id=\"checkout\"> is not clickable at point (412, 733). Other element would receive the click: <div class=\"cookie-banner\">".to_string(),
        },
        "broken" => match (n + launch as usize) % 3 {
            0 => format!("org.openqa.selenium.TimeoutException: Expected condition failed: waiting for visibility of element located by By.cssSelector: #cart-total (tried for {} second(s) with 500 milliseconds interval)", [10, 15, 30][rng.usize(0..3)]),
            1 => format!("java.net.ConnectException: Connection refused: payments-svc:{}", 8080 + rng.u32(0..3)),
            _ => "java.lang.NullPointerException: Cannot invoke \"String.length()\" because \"token\" is null".to_string(),
        },
        "skipped" => "Skipped: depends on a failed setup step".to_string(),
        "unknown" => "Test did not report a result before the run ended".to_string(),
        _ => return (None, None),
    };
    let mut trace = format!("{msg}\n");
    for i in 0..30 {
        trace.push_str(&format!(
            "\tat com.example.tests.Steps.step{i}(Steps.java:{})\n",
            40 + i * 3
        ));
    }
    (Some(msg), Some(trace))
}
