package sampledata

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/bikfed/bikfed/protocol"
)

// The roles a community draft's writer holds on their node: the names of
// the node's member roles, repeated here because the sample data knows no
// node.
const (
	WriterStaff            = "staff"
	WriterYouthCoordinator = "youth-coordinator"
	WriterYouth            = "youth"
)

// CommunityDraft is one post, comment or flag of the network's private
// community, written by a member of a demo SIC. Its body names no author:
// the node that writes it for the member sets the author from the account.
type CommunityDraft struct {
	Draft
	// Node is the SIC whose member writes the draft.
	Node string
	// Writer is the role of that member: WriterStaff, WriterYouthCoordinator
	// or WriterYouth (a young person, whose posts and comments wait for a
	// youth coordinator of the same SIC).
	Writer string
	// On is the ref of the post a comment answers, or of the item a flag
	// names; empty for a post.
	On string
	// Waiting: a young person's item that no coordinator has approved yet.
	Waiting bool
}

// Community returns the demo's community: threads in the Communities of
// Practice, blog posts and their comments, written by the staff of be, fi
// and pt in their languages and in English; a conversation of young people
// in the European youth space, one item of which still waits for pt's
// youth coordinator; and a flag on a reply that names a caller. Drafts come
// in the order they must be written: a ref points only backwards, and a
// draft On another SIC's item needs that item synced to its node first.
func Community() ([]CommunityDraft, error) {
	var out []CommunityDraft
	var errs []error
	add := func(d CommunityDraft, body any) {
		raw, err := json.Marshal(body)
		if err != nil {
			errs = append(errs, fmt.Errorf("sample data: community %s: %w", d.Ref, err))
		}
		d.Body = raw
		out = append(out, d)
	}
	post := func(ref, node, writer, space, format, lang, title, text string, tags ...string) {
		vis := protocol.VisibilityCommunity
		if protocol.IsYouthSpace(space) {
			vis = protocol.VisibilityYouth
		}
		add(CommunityDraft{Draft: Draft{Ref: ref, Kind: protocol.KindPost, Visibility: vis}, Node: node, Writer: writer},
			protocol.Post{Space: space, Format: format, Title: title, Text: text, Language: lang, Tags: tags})
	}
	var space = map[string]string{}
	thread := func(ref, node, writer, sp, lang, title, text string, tags ...string) {
		space[ref] = sp
		post(ref, node, writer, sp, "thread", lang, title, text, tags...)
	}
	blog := func(ref, node, lang, title, text string, tags ...string) {
		space[ref] = protocol.SpaceBlog
		post(ref, node, WriterStaff, protocol.SpaceBlog, "blog", lang, title, text, tags...)
	}
	visOf := func(on string) protocol.Visibility {
		if protocol.IsYouthSpace(space[on]) {
			return protocol.VisibilityYouth
		}
		return protocol.VisibilityCommunity
	}
	reply := func(ref, node, writer, on, lang, text string) {
		space[ref] = space[on]
		add(CommunityDraft{Draft: Draft{Ref: ref, Kind: protocol.KindComment, Visibility: visOf(on)}, Node: node, Writer: writer, On: on},
			protocol.Comment{Post: "@" + on, Text: text, Language: lang})
	}

	// Helplines: sextortion calls.
	thread("be-cop-sextortion", "be", WriterStaff, "helplines", "en",
		"How do you handle sextortion calls from teenage boys?",
		"Since the autumn our helpline gets two or three calls a week from boys of 14 to 17 who sent an intimate image "+
			"to someone they met on a game or on Instagram and are now being asked for money.\n\n"+
			"What we say on the first call:\n\n"+
			"1. **Do not pay** and stop answering: paying almost never ends it.\n"+
			"2. Keep the evidence (screenshots of the profile and the messages) but do not forward the images.\n"+
			"3. Report the account on the platform and use *Take It Down* to get the images hashed.\n"+
			"4. Tell a trusted adult; we can help them find the words.\n\n"+
			"We find the boys are often more ashamed than afraid, and the shame keeps them from telling anyone. "+
			"How do other helplines open these calls? Do you refer to the police at once, or only when the young person agrees?",
		"sextortion", "helplines")
	thread("pt-cop-csam-times", "pt", WriterStaff, "hotlines", "en",
		"Measuring handling times for reports of child sexual abuse material",
		"For our annual report we want to publish handling times in a way that other hotlines can compare with. "+
			"We currently count from the moment a report is received to the moment our analyst has assessed it, and "+
			"separately to the moment it is passed to the INHOPE network or to the police.\n\n"+
			"Our median for assessment was under one working day last year; the time to removal depends on the hosting "+
			"country and is not ours to report.\n\n"+
			"Which moments do you measure, and do you count weekends? No report content, of course: only how you count.",
		"hotline", "reporting")
	thread("fi-cop-sid-2027", "fi", WriterStaff, "awareness", "en",
		"Safer Internet Day 2027: a shared theme on AI chatbots?",
		"Safer Internet Day is on **9 February 2027**. In Finland our schools ask most about AI chatbots: homework, "+
			"companionship apps, and images made of classmates.\n\n"+
			"Would other awareness centres join a common angle, with one lesson plan that each of us localises? "+
			"We can share our draft in Finnish and English by the end of October.",
		"safer-internet-day", "ai")
	thread("fi-cop-youth-panels", "fi", WriterYouthCoordinator, "youth-participation", "en",
		"Keeping a youth panel going after the first year",
		"Our panel had twelve members in its first year and six in its second. The ones who stayed are the ones who "+
			"got to present something themselves, at a school or at our SID event.\n\n"+
			"How do you recruit, and how do you keep the panellists who are busiest with exams?",
		"youth-panel")
	blog("be-blog-parents", "be", "nl",
		"Wat ouders ons dit jaar vroegen",
		"Onze hulplijn kreeg dit jaar meer vragen van ouders dan ooit. De drie vragen die het vaakst terugkwamen:\n\n"+
			"- *Vanaf welke leeftijd mag mijn kind een smartphone?* Er is geen juiste leeftijd; wel afspraken die meegroeien.\n"+
			"- *Moet ik de berichten van mijn kind lezen?* Liever samen praten dan stiekem meelezen.\n"+
			"- *Wat doe ik als mijn kind gepest wordt in een groepschat?* Bewaar de berichten, blijf kalm en neem contact op met de school.\n\n"+
			"We maken er dit najaar een nieuwe brochure van, in het Nederlands, het Frans en het Duits.",
		"parents", "helplines")
	blog("pt-blog-report", "pt", "pt",
		"A Linha Internet Segura em números",
		"No último ano a Linha Internet Segura atendeu mais de 3 000 contactos. O ciberbullying continua a ser o tema "+
			"mais frequente, seguido das burlas online e da partilha de imagens íntimas sem consentimento.\n\n"+
			"Notámos também mais pedidos de ajuda de professores, sobretudo sobre grupos de turma nas redes sociais. "+
			"O relatório completo será publicado em março.",
		"helplines", "annual-report")
	blog("fi-blog-gaming", "fi", "fi",
		"Pelaaminen ja rahapelimäisyys: mitä nuoret kertovat",
		"Kysyimme syksyllä nuorisopaneeliltamme, miten he kokevat pelien ostomahdollisuudet. Moni kertoi käyttäneensä "+
			"rahaa lootboxeihin ennen kuin ymmärsi, paljonko niihin oli mennyt.\n\n"+
			"Nuorten toive vanhemmille oli selvä: kysykää, mitä pelaamme, älkää vain kieltäkö.",
		"gaming", "youth-panel")

	// The European youth space: a post and its replies, each approved by
	// a coordinator of its writer's SIC, but for pt's last reply.
	thread("fi-youth-sid", "fi", WriterYouth, protocol.SpaceYouth, "en",
		"What is your panel doing for Safer Internet Day?",
		"Our panel is making short videos about group chats: what to do when a joke about someone goes too far. "+
			"We film them at school in January. What are you planning?")

	reply("fi-cop-sextortion-1", "fi", WriterStaff, "be-cop-sextortion", "en",
		"Very similar here. We no longer ask *why* they sent the image: the question alone made several callers hang up. "+
			"We start with \"you did the right thing by calling\" and only then talk about the next steps. "+
			"We refer to the police when the young person agrees, unless there is a threat to their safety.")
	reply("pt-cop-sextortion-1", "pt", WriterStaff, "be-cop-sextortion", "pt",
		"Também temos visto este aumento, sobretudo em rapazes de 15 e 16 anos. Na Linha Internet Segura explicamos "+
			"logo que a culpa é de quem chantageia e nunca de quem foi enganado. Encaminhamos para a Polícia Judiciária "+
			"quando há pedido de dinheiro, com o acordo do jovem e, se possível, de um adulto de confiança.")
	reply("be-cop-sextortion-1", "be", WriterStaff, "be-cop-sextortion", "nl",
		"Dank jullie! Een voorbeeld van vorige week: Lotte (15) uit Gent belde ons omdat haar broer werd afgeperst. "+
			"Ze durfde het thuis niet te vertellen. We hebben haar geholpen om samen met haar moeder aangifte te doen.")
	reply("fi-cop-csam-times-1", "fi", WriterStaff, "pt-cop-csam-times", "en",
		"We measure the same two moments and count calendar days, weekends included, because that is how a "+
			"victim experiences the wait. We also publish the share of reports assessed within two working days.")
	reply("be-cop-csam-times-1", "be", WriterStaff, "pt-cop-csam-times", "fr",
		"Chez nous, le délai court à partir de la réception du signalement jusqu'à sa transmission via ICCAM. "+
			"Nous ne comptons pas les week-ends, mais nous l'indiquons clairement dans le rapport pour que la comparaison reste honnête.")
	reply("be-cop-sid-2027-1", "be", WriterStaff, "fi-cop-sid-2027", "fr",
		"Bonne idée ! En Belgique, les écoles francophones nous posent les mêmes questions. Nous pouvons traduire "+
			"la fiche pédagogique en français et en néerlandais si vous la partagez en anglais.")
	reply("pt-cop-sid-2027-1", "pt", WriterStaff, "fi-cop-sid-2027", "pt",
		"Contem connosco. Em Portugal o Dia da Internet Mais Segura é organizado com as escolas da rede do "+
			"Centro Internet Segura; um plano de aula comum sobre chatbots seria muito útil.")
	reply("pt-cop-youth-panels-1", "pt", WriterYouthCoordinator, "fi-cop-youth-panels", "pt",
		"Connosco resultou dar a cada jovem uma tarefa concreta: um apresenta, outro grava, outro escreve. "+
			"Nas épocas de exames reunimo-nos online e só durante meia hora.")
	reply("be-cop-youth-panels-1", "be", WriterYouthCoordinator, "fi-cop-youth-panels", "fr",
		"Nous recrutons par les délégués de classe et les maisons de jeunes. Ce qui fidélise le plus : "+
			"un certificat de participation, utile pour leur CV.")
	reply("fi-blog-parents-1", "fi", WriterStaff, "be-blog-parents", "en",
		"Useful list, thank you. Could we translate the brochure into Finnish once it is out?")
	reply("be-blog-report-1", "be", WriterStaff, "pt-blog-report", "fr",
		"Merci pour ces chiffres. Nous voyons aussi plus d'enseignants à propos des groupes de classe.")
	reply("pt-blog-gaming-1", "pt", WriterStaff, "fi-blog-gaming", "en",
		"Great message from the panel. Our youth panel said almost the same about skins in football games.")
	reply("fi-blog-gaming-2", "fi", WriterYouthCoordinator, "fi-blog-gaming", "fi",
		"Kiitos, hyvä kooste! Otetaan nuorten toiveet mukaan kevään vanhempainiltojen materiaaliin.")

	reply("be-youth-sid-1", "be", WriterYouth, "fi-youth-sid", "en",
		"Cool idea! We are doing a quiz about fake news for our school, in Dutch and French. Can we share the videos with you after?")
	reply("fi-youth-sid-2", "fi", WriterYouthCoordinator, "fi-youth-sid", "en",
		"Great to see this. The finished videos can go in the BIK Youth gallery, with English subtitles.")
	reply("pt-youth-sid-1", "pt", WriterYouth, "fi-youth-sid", "en",
		"In Portugal we are making posters about passwords and 2FA. Olá a todos!")
	reply("pt-youth-sid-2", "pt", WriterYouth, "fi-youth-sid", "pt",
		"Também podíamos fazer um vídeo juntos, cada país grava uma parte? Eu posso tratar da parte portuguesa.")
	out[len(out)-1].Waiting = true

	// fi's staff member flags the reply that names a caller.
	add(CommunityDraft{Draft: Draft{Ref: "fi-flag-caller-name", Kind: protocol.KindFlag, Visibility: protocol.VisibilityCommunity},
		Node: "fi", Writer: WriterStaff, On: "be-cop-sextortion-1"},
		protocol.Flag{Target: "@be-cop-sextortion-1", Reason: "personal-data",
			Text: "This reply names a caller, her age and her town. Could the name be taken out?"})

	for _, d := range out {
		if !validRef(d.Ref) {
			errs = append(errs, fmt.Errorf("sample data: community ref %q", d.Ref))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}
