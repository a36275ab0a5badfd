//! HTML forms as a browser submits them, read from the provider's login, consent and logout
//! pages.

/// An HTML form as a browser submits it: its action resolved against the page's URL (without
/// fragment: LemonLDAP::NG's forms post to `#`, the page itself), every named input with its
/// value, and the page's confirming button when it has a name and value (oidc-provider's
/// "Yes, sign me out" button, which sits outside its form).
pub(crate) struct Form {
    pub(crate) action: String,
    pub(crate) fields: Vec<(String, String)>,
}

impl Form {
    /// The first form of `html`, the page at `page`.
    pub(crate) fn first(html: &str, page: &str) -> Option<Self> {
        let form = &html[html.find("<form")?..];
        let form = &form[..form.find("</form>").unwrap_or(form.len())];
        let action = attribute(opening_tags(form, "<form").next()?, "action").unwrap_or_default();
        let mut action = url::Url::parse(page).ok()?.join(&action).ok()?;
        action.set_fragment(None);
        let mut fields: Vec<(String, String)> = opening_tags(form, "<input")
            .filter_map(|input| Some((attribute(input, "name")?, attribute(input, "value"))))
            .map(|(name, value)| (name, value.unwrap_or_default()))
            .collect();
        let confirm = opening_tags(html, "<button")
            .find_map(|b| Some((attribute(b, "name")?, attribute(b, "value")?)));
        fields.extend(confirm);
        Some(Self { action: action.to_string(), fields })
    }

    pub(crate) fn has(&self, name: &str) -> bool {
        self.fields.iter().any(|(n, _)| n == name)
    }

    /// Sets field `name` to `value`, if the form has it.
    pub(crate) fn fill(&mut self, name: &str, value: &str) {
        for (_, v) in self.fields.iter_mut().filter(|(n, _)| n == name) {
            value.clone_into(v);
        }
    }
}

/// Each `<tag ...` opening tag of `html` (up to its `>`).
fn opening_tags<'a>(html: &'a str, open: &'a str) -> impl Iterator<Item = &'a str> {
    html.match_indices(open).filter_map(|(at, _)| {
        let tag = &html[at..];
        tag.find('>').map(|end| &tag[..end])
    })
}

/// The value of the double-quoted attribute `name` of an opening tag, its entities decoded.
fn attribute(tag: &str, name: &str) -> Option<String> {
    let key = format!("{name}=\"");
    let from = tag
        .match_indices(&key)
        .find(|(at, _)| tag[..*at].ends_with(char::is_whitespace))
        .map(|(at, _)| at + key.len())?;
    let value = &tag[from..from + tag[from..].find('"')?];
    let entities =
        [("&quot;", "\""), ("&#39;", "'"), ("&#x27;", "'"), ("&#x2F;", "/"), ("&lt;", "<")];
    let value = entities.iter().fold(value.to_owned(), |v, (e, c)| v.replace(e, c));
    Some(value.replace("&gt;", ">").replace("&amp;", "&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_form_reads_as_a_browser_submits_it() {
        let page = "http://localhost:3001/oauth2/authorize?client_id=c&state=s";
        let html = r##"<p><form id="lform" action="#" method="post">
            <input type="hidden" name="url" value="aHR0cA==" />
            <input type="hidden" name="timezone" />
            <input id="token" type="hidden" name="token" value="17_3" />
            <input id="userfield" name="user" type="text" value="" />
            <input id="passwordfield" name="password" type="password" />
            <button type="submit" class="btn">Connect</button></form>
            <button id="refuse" val="x">No</button>"##;
        let mut form = Form::first(html, page).unwrap();
        assert_eq!(form.action, page, "action=\"#\" posts to the page itself");
        assert!(form.has("password"));
        form.fill("user", "dwho");
        let fields: Vec<(&str, &str)> =
            form.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(
            fields,
            [
                ("url", "aHR0cA=="),
                ("timezone", ""),
                ("token", "17_3"),
                ("user", "dwho"),
                ("password", "")
            ]
        );

        let html = r##"<form id="op.logoutForm" method="post" action="/session/end/confirm">
            <input type="hidden" name="xsrf" value="a&amp;b"/></form>
            <button autofocus type="submit" form="op.logoutForm" value="yes" name="logout">Yes</button>"##;
        let form = Form::first(html, "http://localhost:3000/session/end?client_id=c").unwrap();
        assert_eq!(form.action, "http://localhost:3000/session/end/confirm");
        let fields: Vec<(&str, &str)> =
            form.fields.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        assert_eq!(fields, [("xsrf", "a&b"), ("logout", "yes")]);
    }
}
