//! The order e-mails, rendered with `minijinja` from a typed context.
//!
//! Each template has three parts, embedded in the crate: `<name>.subject.txt`,
//! `<name>.txt` and `<name>.html`. HTML parts are auto-escaped (a customer called
//! `<script>` stays text), text parts are not. The subject is folded onto one line, so
//! no value can turn it into extra headers.

use minijinja::{Environment, UndefinedBehavior};
use seam_domain::Order;
use serde::Serialize;

use crate::error::{Error, Result};

const TEMPLATES: &[(&str, &str)] = &[
    (
        "order_confirmation.subject.txt",
        include_str!("../templates/order_confirmation.subject.txt"),
    ),
    (
        "order_confirmation.txt",
        include_str!("../templates/order_confirmation.txt"),
    ),
    (
        "order_confirmation.html",
        include_str!("../templates/order_confirmation.html"),
    ),
    (
        "order_rejection.subject.txt",
        include_str!("../templates/order_rejection.subject.txt"),
    ),
    (
        "order_rejection.txt",
        include_str!("../templates/order_rejection.txt"),
    ),
    (
        "order_rejection.html",
        include_str!("../templates/order_rejection.html"),
    ),
    (
        "payment_failed.subject.txt",
        include_str!("../templates/payment_failed.subject.txt"),
    ),
    (
        "payment_failed.txt",
        include_str!("../templates/payment_failed.txt"),
    ),
    (
        "payment_failed.html",
        include_str!("../templates/payment_failed.html"),
    ),
];

/// What the order templates show.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderEmail {
    /// The order's id.
    pub order_id: String,
    /// How to greet the customer.
    pub customer_name: String,
    /// The ordered lines.
    pub lines: Vec<OrderEmailLine>,
    /// The order total, formatted (`42.00 EUR`).
    pub total: String,
    /// Why the order was rejected, for the rejection e-mail.
    pub reason: Option<String>,
}

/// One ordered line, with money already formatted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderEmailLine {
    /// The product's SKU.
    pub sku: String,
    /// How many units.
    pub quantity: u32,
    /// The price of one unit (`19.99 EUR`).
    pub unit_price: String,
    /// `quantity` times `unit_price` (`39.98 EUR`).
    pub line_total: String,
}

impl OrderEmail {
    /// The context for an order, with its rejection reason if it has one.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when a line total overflows.
    pub fn from_order(order: &Order, customer_name: impl Into<String>) -> Result<Self> {
        let lines = order
            .lines
            .iter()
            .map(|line| {
                let total = line
                    .total()
                    .map_err(|error| Error::invalid(format!("order line total: {error}")))?;
                Ok(OrderEmailLine {
                    sku: line.sku.to_string(),
                    quantity: line.quantity.get(),
                    unit_price: line.unit_price.to_string(),
                    line_total: total.to_string(),
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            order_id: order.id.to_string(),
            customer_name: customer_name.into(),
            lines,
            total: order.total.to_string(),
            reason: order.rejection_reason.clone(),
        })
    }
}

/// A rendered template: what [`crate::EmailMessageBuilder::rendered`] takes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderedEmail {
    /// One line, no CR/LF.
    pub subject: String,
    /// The plain-text body.
    pub text: String,
    /// The HTML body, escaped.
    pub html: String,
}

/// The registry of embedded e-mail templates.
#[derive(Debug)]
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    /// The names of the embedded templates.
    pub const NAMES: &'static [&'static str] =
        &["order_confirmation", "order_rejection", "payment_failed"];

    /// Loads the embedded templates.
    ///
    /// # Panics
    ///
    /// Never in a released crate: the unit tests parse every embedded template.
    pub fn new() -> Self {
        let mut env = Environment::new();
        // A typo in a template or a missing field fails the render instead of printing nothing.
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        for (name, source) in TEMPLATES {
            env.add_template(name, source)
                .unwrap_or_else(|error| panic!("embedded template {name} is broken: {error}"));
        }
        Self { env }
    }

    /// The order confirmation for `context`.
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the context does not fit the template.
    pub fn order_confirmation(&self, context: &OrderEmail) -> Result<RenderedEmail> {
        self.render("order_confirmation", context)
    }

    /// The order rejection for `context` (its `reason` is shown when set).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the context does not fit the template.
    pub fn order_rejection(&self, context: &OrderEmail) -> Result<RenderedEmail> {
        self.render("order_rejection", context)
    }

    /// The notice that a payment for an order failed (`reason` says why, safely).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] when the context does not fit the template.
    pub fn payment_failed(&self, context: &OrderEmail) -> Result<RenderedEmail> {
        self.render("payment_failed", context)
    }

    /// Renders the three parts of template `name` (one of [`Self::NAMES`]).
    ///
    /// # Errors
    ///
    /// [`Error::Invalid`] for an unknown template or a context that does not fit it.
    pub fn render(&self, name: &str, context: &impl Serialize) -> Result<RenderedEmail> {
        let part = |suffix: &str| {
            let full = format!("{name}.{suffix}");
            let template = self
                .env
                .get_template(&full)
                .map_err(|_| Error::invalid(format!("no e-mail template named {name:?}")))?;
            template
                .render(context)
                .map_err(|error| Error::invalid(format!("rendering template {full}: {error}")))
        };
        let subject = part("subject.txt")?
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        Ok(RenderedEmail {
            subject,
            text: part("txt")?,
            html: part("html")?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(name: &str) -> OrderEmail {
        OrderEmail {
            order_id: "ord-42".into(),
            customer_name: name.into(),
            lines: vec![
                OrderEmailLine {
                    sku: "MUG-RED".into(),
                    quantity: 2,
                    unit_price: "9.50 EUR".into(),
                    line_total: "19.00 EUR".into(),
                },
                OrderEmailLine {
                    sku: "TEA-01".into(),
                    quantity: 1,
                    unit_price: "4.25 EUR".into(),
                    line_total: "4.25 EUR".into(),
                },
            ],
            total: "23.25 EUR".into(),
            reason: None,
        }
    }

    #[test]
    fn confirmation_renders_every_part() {
        let rendered = Templates::new()
            .order_confirmation(&context("Ada"))
            .unwrap();
        assert_eq!(rendered.subject, "Your order ord-42 is confirmed");
        assert!(rendered.text.starts_with("Hello Ada,"), "{}", rendered.text);
        assert!(
            rendered
                .text
                .contains("2 x MUG-RED at 9.50 EUR = 19.00 EUR\n")
        );
        assert!(
            rendered
                .text
                .contains("1 x TEA-01 at 4.25 EUR = 4.25 EUR\n")
        );
        assert!(rendered.text.contains("Total: 23.25 EUR"));
        assert!(rendered.html.contains("<p>Hello Ada,</p>"));
        assert!(
            rendered
                .html
                .contains("<tr><td>MUG-RED</td><td>2</td><td>9.50 EUR</td><td>19.00 EUR</td></tr>")
        );
        assert!(rendered.html.contains("<td>23.25 EUR</td>"));
    }

    #[test]
    fn html_is_escaped_and_text_is_not() {
        let hostile = "<script>alert('x')</script> & \"Bob\"";
        let rendered = Templates::new()
            .order_confirmation(&context(hostile))
            .unwrap();
        assert!(!rendered.html.contains("<script>"), "{}", rendered.html);
        assert!(
            rendered.html.contains(
                "&lt;script&gt;alert(&#x27;x&#x27;)&lt;&#x2f;script&gt; &amp; &quot;Bob&quot;"
            ),
            "{}",
            rendered.html
        );
        assert!(rendered.text.contains(&format!("Hello {hostile},")));
    }

    #[test]
    fn rejection_shows_the_reason_when_there_is_one() {
        let templates = Templates::new();
        let mut ctx = context("Ada");
        ctx.reason = Some("MUG-RED is out of stock <sorry>".into());
        let rendered = templates.order_rejection(&ctx).unwrap();
        assert_eq!(rendered.subject, "Your order ord-42 could not be accepted");
        assert!(
            rendered
                .text
                .contains("Reason: MUG-RED is out of stock <sorry>\n")
        );
        assert!(
            rendered
                .html
                .contains("<p>Reason: MUG-RED is out of stock &lt;sorry&gt;</p>")
        );
        ctx.reason = None;
        let rendered = templates.order_rejection(&ctx).unwrap();
        assert!(!rendered.text.contains("Reason"));
        assert!(!rendered.html.contains("Reason"));
    }

    #[test]
    fn subject_is_one_line_whatever_the_values() {
        let mut ctx = context("Ada");
        ctx.order_id = "x\r\nBcc: evil@example.com".into();
        let rendered = Templates::new().order_confirmation(&ctx).unwrap();
        assert!(!rendered.subject.contains(['\r', '\n']));
        assert_eq!(
            rendered.subject,
            "Your order x Bcc: evil@example.com is confirmed"
        );
    }

    #[test]
    fn unknown_templates_and_bad_contexts_are_invalid() {
        let templates = Templates::new();
        let error = templates.render("nope", &context("Ada")).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("no e-mail template named \"nope\"")
        );
        let error = templates
            .render("order_confirmation", &serde_json_free_context())
            .unwrap_err();
        assert!(matches!(error, Error::Invalid(_)), "{error}");
    }

    fn serde_json_free_context() -> std::collections::BTreeMap<&'static str, &'static str> {
        std::collections::BTreeMap::from([("order_id", "1")])
    }

    #[test]
    fn context_from_an_order_formats_money_and_keeps_the_reason() {
        use seam_domain::{Currency, Money, OrderLine, Quantity, Sku};

        let eur = Currency::parse("EUR").unwrap();
        let line = OrderLine {
            sku: Sku::parse("MUG-RED").unwrap(),
            quantity: Quantity::new(3).unwrap(),
            unit_price: Money::from_major_str("9.50", eur).unwrap(),
        };
        let mut order = Order::place(
            seam_core::Id::new(),
            seam_core::Id::new(),
            eur,
            vec![line],
            chrono::Utc::now(),
        )
        .unwrap();
        order.reject("out of stock", chrono::Utc::now()).unwrap();
        let context = OrderEmail::from_order(&order, "Ada").unwrap();
        assert_eq!(context.order_id, order.id.to_string());
        assert_eq!(context.total, "28.50 EUR");
        assert_eq!(
            context.lines,
            [OrderEmailLine {
                sku: "MUG-RED".into(),
                quantity: 3,
                unit_price: "9.50 EUR".into(),
                line_total: "28.50 EUR".into(),
            }]
        );
        assert_eq!(context.reason.as_deref(), Some("out of stock"));
        let rendered = Templates::new().order_rejection(&context).unwrap();
        assert!(
            rendered
                .text
                .contains("3 x MUG-RED at 9.50 EUR = 28.50 EUR")
        );
    }

    #[test]
    fn a_rendered_email_builds_a_message() {
        let rendered = Templates::new()
            .order_confirmation(&context("Ada"))
            .unwrap();
        let message = crate::EmailMessage::builder()
            .from(seam_domain::EmailAddress::parse("shop@example.com").unwrap())
            .to(seam_domain::EmailAddress::parse("ada@example.com").unwrap())
            .rendered(rendered.clone())
            .build()
            .unwrap();
        assert_eq!(message.subject(), rendered.subject);
        assert_eq!(message.text(), Some(rendered.text.as_str()));
        assert_eq!(message.html(), Some(rendered.html.as_str()));
    }
}
