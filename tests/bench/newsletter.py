#!/usr/bin/python3
"""newsletter.py - the html50k message of tests/bench/cost_bench.sh: a
realistic HTML newsletter, about 50 kB (51,000 bytes signed), multipart/alternative (a text/plain
part and a quoted-printable text/html part: tables, inline styles, images
and exactly 100 links, most of them click-tracking redirects, as mailing
services send them).  Deterministic: the same bytes on every run.

  newsletter.py FROM-DOMAIN TO-ADDRESS > message.eml   (LF line ends)

Sign it afterwards (cost_bench.sh does, with dkimsign).  Test-only.
"""
import quopri
import sys

WORDS = ("season new collection arrives this week with lighter fabrics warmer "
         "colours and a fit our customers asked for in the last survey every "
         "piece is made in small batches and ships within two working days "
         "free returns apply for thirty days after delivery").split()


def sentence(seed, n):
    """n words picked by a fixed rule from WORDS, capitalised, with a full stop."""
    w = [WORDS[(seed * 7 + i * 13) % len(WORDS)] for i in range(n)]
    return " ".join(w).capitalize() + "."


def paragraph(seed, sentences=4):
    return " ".join(sentence(seed + i, 9 + (seed + i) % 7) for i in range(sentences))


def links():
    """The 100 link targets, in the order they appear."""
    out = []
    for i in range(60):  # every product and article link goes through the tracker
        out.append("https://click.mail-shop.test/ls/click?upn=u%03d-%08x&c=spring" % (i, 0x9e3779b1 * (i + 1) & 0xffffffff))
    for i in range(20):
        out.append("https://www.shop.test/products/item-%03d?utm_source=newsletter&utm_medium=email" % i)
    for i in range(8):
        out.append("https://blog.shop.test/2026/05/story-%d" % i)
    out += ["https://www.facebook.com/shoptest", "https://twitter.com/shoptest",
            "https://www.instagram.com/shoptest", "https://www.youtube.com/@shoptest",
            "https://www.linkedin.com/company/shoptest", "https://help.shop.test/contact",
            "https://help.shop.test/returns", "https://www.shop.test/stores",
            "https://maps.example.org/?q=shop+test", "https://www.shop.test/account",
            "https://click.mail-shop.test/ls/unsubscribe?u=bench", "mailto:news@shop.test"]
    assert len(out) == 100
    return out


def html(urls):
    h = ['<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" '
         '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">',
         '<html xmlns="http://www.w3.org/1999/xhtml"><head>',
         '<meta http-equiv="Content-Type" content="text/html; charset=UTF-8" />',
         '<title>Spring news</title><style type="text/css">',
         'body { margin: 0; padding: 0; background: #f4f4f4; }',
         'td.cell { font-family: Helvetica, Arial, sans-serif; font-size: 15px; color: #333333; }',
         'a.btn { background: #1a73e8; color: #ffffff; padding: 10px 18px; text-decoration: none; }',
         '</style></head><body>',
         '<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" '
         'style="background-color:#f4f4f4;"><tr><td align="center">']
    for c in range(40):  # 40 product cards, two links each: the picture, the button
        h.append('<table role="presentation" width="600" cellpadding="0" cellspacing="0" '
                 'border="0" style="background-color:#ffffff;margin-top:12px;"><tr>')
        h.append('<td class="cell" style="padding:16px 24px;line-height:22px;">')
        h.append('<a href="%s"><img src="https://cdn.shop.test/img/p%03d.jpg" width="552" '
                 'height="240" alt="Item %d" style="display:block;border:0;" /></a>'
                 % (urls[2 * c], c, c))
        h.append('<h2 style="font-size:19px;margin:12px 0 6px 0;">%s</h2>' % sentence(c, 5)[:-1])
        h.append('<p style="margin:0 0 12px 0;">%s</p>' % paragraph(c, 3 + c % 3))
        h.append('<a class="btn" href="%s">Shop now &rarr;</a>' % urls[2 * c + 1])
        h.append('</td></tr></table>')
    for u in urls[80:]:
        h.append('<p style="font-size:12px;color:#777777;text-align:center;">'
                 '<a href="%s" style="color:#777777;">%s</a></p>' % (u, u.split("//")[-1][:40]))
    h.append('<p style="font-size:11px;color:#999999;">You receive this because you subscribed '
             'at shop.test. Shop Test Ltd, 1 Example Street, Testville. &copy; 2026 &ndash; '
             'caf&eacute; &amp; more: d\u00e9j\u00e0 vu prices \u2013 \u20ac19.99</p>')
    h.append('</td></tr></table></body></html>')
    return "\n".join(h) + "\n"


def text(urls):
    t = ["SPRING NEWS FROM SHOP TEST", ""]
    for i in range(20):
        t += [sentence(i, 5)[:-1].upper(), paragraph(i, 2), urls[i], ""]
    t += ["Unsubscribe: " + urls[98], "Shop Test Ltd, 1 Example Street, Testville", ""]
    return "\n".join(t)


def qp(s):
    return quopri.encodestring(s.encode("utf-8")).decode("ascii")


def main():
    domain, rcpt = sys.argv[1], sys.argv[2]
    urls = links()
    b = "=_bench_newsletter_7f3a"
    out = ["From: Shop Test News <news@%s>" % domain,
           "To: <%s>" % rcpt,
           "Subject: Spring collection: 20 new pieces, free returns",
           "Date: Thu, 28 May 2026 10:00:00 +0000",
           "Message-ID: <news-2026-05-28.bench@%s>" % domain,
           "MIME-Version: 1.0",
           "List-Unsubscribe: <%s>, <mailto:unsubscribe@%s>" % (urls[98], domain),
           "List-Unsubscribe-Post: List-Unsubscribe=One-Click",
           "Precedence: bulk",
           'Content-Type: multipart/alternative; boundary="%s"' % b,
           "Received: from client.authscore.test (client.authscore.test [203.0.113.10])",
           "\tby mail.%s with ESMTPS id 4Bq9; Thu, 28 May 2026 09:59:59 +0000" % domain,
           "",
           "This is a multi-part message in MIME format.",
           "--" + b,
           "Content-Type: text/plain; charset=utf-8",
           "Content-Transfer-Encoding: quoted-printable",
           "",
           qp(text(urls)).rstrip("\n"),
           "--" + b,
           "Content-Type: text/html; charset=utf-8",
           "Content-Transfer-Encoding: quoted-printable",
           "",
           qp(html(urls)).rstrip("\n"),
           "--" + b + "--",
           ""]
    sys.stdout.write("\n".join(out))


if __name__ == "__main__":
    main()
