//! `report.html`: one self-contained page a person opens from the file system: the run's
//! headline, its pictures inline, its tables (a simulation's kernels, engines and HBM
//! channels; a sweep's points), each sortable by any column, and what the terminal printed.
//! Inline CSS and a few lines of inline script; nothing is fetched.

use super::svg::escape;

/// One table of a report: its heading, column names and rows of cells.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Its heading.
    pub heading: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows of cells, as text.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table of `rows` under `heading` with `columns`.
    pub fn new(heading: &str, columns: &[&str], rows: Vec<Vec<String>>) -> Table {
        Table {
            heading: heading.to_string(),
            columns: columns.iter().map(|c| c.to_string()).collect(),
            rows,
        }
    }

    /// The table as CSV: its columns, then its rows.
    pub fn csv(&self) -> Result<Vec<u8>, super::ReportError> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        writer.write_record(&self.columns)?;
        for row in &self.rows {
            writer.write_record(row)?;
        }
        writer
            .into_inner()
            .map_err(|error| super::ReportError::Csv(error.into_error().into()))
    }
}

/// The report of a run: its headline when it has one (see [`super::headline`]), its
/// pictures (heading, SVG), its tables (the first is the page's main one, `id="table"`),
/// then its terminal summary folded away; without a headline the terminal summary leads.
pub fn report_html(
    title: &str,
    (headline, summary): (Option<&str>, &str),
    pictures: &[(&str, &str)],
    tables: &[Table],
) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(title),
        escape(title)
    );
    let terminal = format!("<pre>{}</pre>\n", escape(summary));
    match headline {
        Some(headline) => html.push_str(headline),
        None => {
            html.push_str("<h2>Summary</h2>\n");
            html.push_str(&terminal);
        }
    }
    for (heading, svg) in pictures {
        html.push_str(&format!(
            "<h2>{}</h2>\n<figure>\n{svg}</figure>\n",
            escape(heading)
        ));
    }
    for (index, table) in tables.iter().enumerate() {
        let id = if index == 0 {
            "table".to_string()
        } else {
            format!("table-{index}")
        };
        html.push_str(&format!(
            "<h2>{}</h2>\n<p>Click a column to sort by it.</p>\n",
            escape(&table.heading)
        ));
        html.push_str(&format!(
            "<table id=\"{id}\" class=\"sortable\">\n<thead><tr>"
        ));
        for column in &table.columns {
            html.push_str(&format!("<th>{}</th>", escape(column)));
        }
        html.push_str("</tr></thead>\n<tbody>\n");
        for row in &table.rows {
            html.push_str("<tr>");
            for cell in row {
                html.push_str(&format!("<td>{}</td>", escape(cell)));
            }
            html.push_str("</tr>\n");
        }
        html.push_str("</tbody>\n</table>\n");
    }
    if headline.is_some() {
        html.push_str("<details>\n<summary>What the terminal printed</summary>\n");
        html.push_str(&terminal);
        html.push_str("</details>\n");
    }
    html.push_str(&format!(
        "<script>{SORT_SCRIPT}</script>\n</body>\n</html>\n"
    ));
    html
}

const STYLE: &str = "body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222}\
pre{background:#f6f6f6;padding:12px;overflow-x:auto;font-size:12px}\
figure{margin:0 0 24px 0}svg{max-width:100%;height:auto}\
table{border-collapse:collapse;font-size:13px}\
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right}\
td:first-child,th:first-child{text-align:left}\
th{background:#eee;cursor:pointer}\
.headline .answer{font-size:22px}.headline table{margin-bottom:16px}\
.bar{display:inline-block;width:80px;height:9px;background:#eee;border:1px solid #bbb;\
vertical-align:middle}.bar span{display:block;height:100%;background:#1f78b4}";

/// Sorts a table by the clicked column: numerically when the cells are numbers (ignoring
/// `x` and `%`), else alphabetically; a second click reverses.
const SORT_SCRIPT: &str = "document.querySelectorAll('table.sortable').forEach(function(table){\
table.querySelectorAll('th').forEach(function(th,col){\
th.addEventListener('click',function(){\
var body=table.querySelector('tbody');\
var rows=Array.prototype.slice.call(body.rows);\
var value=function(r){var t=r.cells[col].textContent.replace(/[x%]/g,'');\
var n=parseFloat(t);return isNaN(n)?t:n;};\
var down=th.dataset.down!=='1';th.dataset.down=down?'1':'0';\
rows.sort(function(a,b){var x=value(a),y=value(b);var c=x<y?-1:x>y?1:0;\
return down?-c:c;});\
rows.forEach(function(r){body.appendChild(r);});});});});";

#[cfg(test)]
mod tests {
    use super::*;

    /// The page holds the summary escaped, every picture inline, a row per kernel, and
    /// fetches nothing.
    #[test]
    fn the_page_is_self_contained() {
        let rows = vec![
            vec!["vision/fc2".to_string(), "x12".to_string()],
            vec!["text/<o_proj>".to_string(), "x16".to_string()],
        ];
        let html = report_html(
            "run",
            (None, "a < b"),
            &[("Cross-check", "<svg id=\"a\"></svg>\n")],
            &[Table::new("Kernels", &["kernel", "count"], rows.clone())],
        );
        assert!(html.contains("<pre>a &lt; b</pre>"));
        assert!(html.contains("<svg id=\"a\"></svg>"));
        assert_eq!(html.matches("<tr>").count(), 1 + rows.len());
        assert!(html.contains("text/&lt;o_proj&gt;"));
        assert!(!html.contains("http") && !html.contains("src=") && !html.contains("href="));
    }

    /// With a headline the page leads with it, and the terminal text comes last, folded.
    #[test]
    fn a_headline_leads_and_the_terminal_text_follows() {
        let html = report_html(
            "run",
            (
                Some("<section class=\"headline\">answer</section>\n"),
                "a < b",
            ),
            &[("Cross-check", "<svg id=\"a\"></svg>\n")],
            &[Table::new("Kernels", &["kernel"], Vec::new())],
        );
        let at = |text: &str| html.find(text).unwrap();
        assert!(
            at("answer") < at("<svg")
                && at("<svg") < at("<table")
                && at("<table") < at("<details>")
        );
        assert!(html.contains(
            "<details>\n<summary>What the terminal printed</summary>\n<pre>a &lt; b</pre>"
        ));
    }
}
