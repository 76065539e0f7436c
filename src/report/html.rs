//! `report.html`: one self-contained page a person opens from the file system: the run's
//! summary (what the terminal prints), its pictures inline, and its table (a simulation's
//! kernels, a sweep's points), sortable by any column. Inline CSS and a few lines of inline
//! script; nothing is fetched.

use super::svg::escape;

/// The report of a run: its terminal summary, its pictures (heading, SVG) and its table
/// (heading, column names, rows of cells).
pub fn report_html(
    title: &str,
    summary: &str,
    pictures: &[(&str, &str)],
    (heading, columns, rows): (&str, &[&str], &[Vec<String>]),
) -> String {
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
        escape(title),
        escape(title)
    );
    html.push_str("<h2>Summary</h2>\n<pre>");
    html.push_str(&escape(summary));
    html.push_str("</pre>\n");
    for (heading, svg) in pictures {
        html.push_str(&format!(
            "<h2>{}</h2>\n<figure>\n{svg}</figure>\n",
            escape(heading)
        ));
    }
    html.push_str(&format!(
        "<h2>{}</h2>\n<p>Click a column to sort by it.</p>\n",
        escape(heading)
    ));
    html.push_str("<table id=\"table\">\n<thead><tr>");
    for column in columns {
        html.push_str(&format!("<th>{}</th>", escape(column)));
    }
    html.push_str("</tr></thead>\n<tbody>\n");
    for row in rows {
        html.push_str("<tr>");
        for cell in row {
            html.push_str(&format!("<td>{}</td>", escape(cell)));
        }
        html.push_str("</tr>\n");
    }
    html.push_str("</tbody>\n</table>\n");
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
th{background:#eee;cursor:pointer}";

/// Sorts the table by the clicked column: numerically when the cells are numbers
/// (ignoring `x` and `%`), else alphabetically; a second click reverses.
const SORT_SCRIPT: &str = "document.querySelectorAll('#table th').forEach(function(th,col){\
th.addEventListener('click',function(){\
var body=document.querySelector('#table tbody');\
var rows=Array.prototype.slice.call(body.rows);\
var value=function(r){var t=r.cells[col].textContent.replace(/[x%]/g,'');\
var n=parseFloat(t);return isNaN(n)?t:n;};\
var down=th.dataset.down!=='1';th.dataset.down=down?'1':'0';\
rows.sort(function(a,b){var x=value(a),y=value(b);var c=x<y?-1:x>y?1:0;\
return down?-c:c;});\
rows.forEach(function(r){body.appendChild(r);});});});";

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
            "a < b",
            &[("Cross-check", "<svg id=\"a\"></svg>\n")],
            ("Kernels", &["kernel", "count"], &rows),
        );
        assert!(html.contains("<pre>a &lt; b</pre>"));
        assert!(html.contains("<svg id=\"a\"></svg>"));
        assert_eq!(html.matches("<tr>").count(), 1 + rows.len());
        assert!(html.contains("text/&lt;o_proj&gt;"));
        assert!(!html.contains("http") && !html.contains("src=") && !html.contains("href="));
    }
}
